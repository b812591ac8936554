"""The pure rules of watching together: the shared timeline, the messages a browser may send,
who steers, floods and when a session ends."""

from __future__ import annotations

import json

import pytest

from lessoncam_server.lessons.watching.flood import Bucket
from lessoncam_server.lessons.watching.lifetime import Lifetime
from lessoncam_server.lessons.watching.messages import (
    MAX_MESSAGE_BYTES,
    LayoutChange,
    Lead,
    Refused,
    StateChange,
    parse,
)
from lessoncam_server.lessons.watching.session import WatchSession
from lessoncam_server.lessons.watching.timeline import Timeline

LESSON = "01JDWATCH00000000000000001"


def _raw(**fields: object) -> str:
    return json.dumps({"seq": 1, "lesson": LESSON, **fields})


def _state(seq: int = 1, **over: object) -> StateChange:
    fields = {"type": "state", "cause": "seek", "playing": True, "position_s": 10.0, "rate": 1.0}
    message = parse(json.dumps({"seq": seq, "lesson": LESSON, **fields, **over}), LESSON, 0)
    assert isinstance(message, StateChange)
    return message


def test_the_timeline_runs_on_while_playing_at_its_rate_and_stops_at_the_end() -> None:
    paused = Timeline().changed(
        playing=False, position_s=12.0, rate=1.0, now_ms=1000.0, duration_s=60
    )
    assert paused.position_at(9000.0, 60) == 12.0
    playing = paused.changed(playing=True, position_s=12.0, rate=2.0, now_ms=1000.0, duration_s=60)
    assert playing.version == 2
    assert playing.position_at(3000.0, 60) == pytest.approx(16.0)
    assert playing.position_at(100_000.0, 60) == 60.0  # not past the end
    settled = playing.settled(100_000.0, 60)
    assert not settled.playing and settled.position_s == 60.0  # a late joiner finds it ended
    assert playing.settled(2000.0, 60).position_s == pytest.approx(14.0)
    assert (
        Timeline().changed(playing=False, position_s=-3, rate=1, now_ms=0, duration_s=60).position_s
        == 0.0
    )


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "malformed"),
        ("[]", "malformed"),
        (_raw(type="dance"), "malformed"),
        (_raw(type="state", cause="seek", playing=True, position_s=-1, rate=1), "malformed"),
        (_raw(type="state", cause="seek", playing=True, position_s=1, rate=50), "malformed"),
        (_raw(type="state", cause="seek", playing="yes", position_s=1, rate=1), "malformed"),
        # Forged: the sender is the connection's user, never a name in the message.
        (_raw(type="state", cause="seek", playing=True, position_s=1, rate=1, by=7), "malformed"),
        (_raw(type="pointer", screen="main", x=1.5, y=0.5), "malformed"),
        (_raw(type="ping", t=float("nan")), "malformed"),
        (
            json.dumps({"seq": 1, "lesson": "01JDOTHER0000000000000001", "type": "leave"}),
            "other_lesson",
        ),
        (json.dumps({"seq": 1, "type": "leave"}), "malformed"),
        ("x" * (MAX_MESSAGE_BYTES + 1), "too_large"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(Refused) as refused:
        parse(raw, LESSON, 0)
    assert refused.value.code == code


def test_a_replayed_or_reordered_message_is_refused() -> None:
    assert parse(_raw(type="leave"), LESSON, 0).seq == 1
    with pytest.raises(Refused, match="replayed"):
        parse(_raw(type="leave"), LESSON, 1)
    with pytest.raises(Refused, match="replayed"):
        parse(_raw(type="leave"), LESSON, 5)


def _session() -> WatchSession:
    session = WatchSession(id="s", lesson_id=LESSON, host_id=1, duration_s=60.0, invited={2, 3})
    for connection, user in ((10, 1), (20, 2), (30, 3)):
        session.join(connection, user)
    return session


def _lead(action: str, to: int | None = None) -> Lead:
    return Lead(seq=1, lesson=LESSON, type="lead", action=action, to=to)  # type: ignore[arg-type]


def test_everyone_steers_until_the_host_takes_the_lead_and_hands_it_over() -> None:
    session = _session()
    session.steer(2, _state(position_s=5.0), 0.0)
    assert session.timeline.position_s == 5.0
    with pytest.raises(Refused, match="not_host"):
        session.lead(2, _lead("take"))
    assert session.lead(1, _lead("take")) == 1
    with pytest.raises(Refused, match="not_leader"):
        session.steer(2, _state(position_s=9.0), 0.0)
    with pytest.raises(Refused, match="not_leader"):
        session.lay_out(
            3, LayoutChange(seq=1, lesson=LESSON, type="layout", pip=True, swapped=False)
        )
    assert session.timeline.position_s == 5.0
    with pytest.raises(Refused, match="not_present"):
        session.lead(1, _lead("give", 99))
    assert session.lead(1, _lead("give", 2)) == 2
    session.steer(2, _state(position_s=9.0), 0.0)
    with pytest.raises(Refused, match="not_leader"):
        session.steer(1, _state(position_s=1.0), 0.0)  # she handed it over
    assert session.lead(1, _lead("take")) == 1  # and may take it back
    assert session.lead(1, _lead("release")) is None
    session.steer(3, _state(position_s=2.0), 0.0)


def test_the_lead_goes_when_its_holder_leaves_or_is_removed() -> None:
    session = _session()
    session.lead(1, _lead("take"))
    session.lead(1, _lead("give", 2))
    session.leave(20)
    assert session.leader is None and session.present_users() == [1, 3]
    session.join(21, 2)
    session.lead(1, _lead("take"))
    session.lead(1, _lead("give", 3))
    session.uninvite(3)
    assert session.leader is None
    with pytest.raises(Refused, match="not_invited"):
        session.join(40, 3)
    with pytest.raises(Refused, match="not_invited"):
        session.join(41, 99)


def test_a_flood_is_cut_to_the_bucket_and_a_person_is_not() -> None:
    bucket = Bucket(burst=5, per_second=2, max_strikes=10)
    allowed = sum(bucket.allow(0.0) for _ in range(100))
    assert allowed == 5 and bucket.exhausted
    calm = Bucket(burst=5, per_second=2, max_strikes=10)
    # Two messages a second for a minute: never refused.
    assert all(calm.allow(t / 2) for t in range(120))
    assert bucket.allow(10.0)  # after a pause the flooder may speak again
    assert bucket.strikes == 0


def test_a_session_ends_when_empty_past_the_grace_or_too_long() -> None:
    life = Lifetime(empty_grace_s=60, max_s=3600)
    assert life.ended(now_s=100, started_s=0, empty_since_s=None) is None
    assert life.ended(now_s=100, started_s=0, empty_since_s=50) is None  # a reload, a dropout
    assert life.ended(now_s=110, started_s=0, empty_since_s=50) == "empty"
    assert life.ended(now_s=3600, started_s=0, empty_since_s=None) == "time_out"
    # Nobody came yet: the host may still be inviting; she gets longer.
    assert life.ended(now_s=110, started_s=0, empty_since_s=0, joined=False) is None
    assert life.ended(now_s=900, started_s=0, empty_since_s=0, joined=False) == "empty"
