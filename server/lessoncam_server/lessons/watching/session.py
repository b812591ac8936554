"""One watch-together session as a pure state object: who may join, who is present, who
steers, and the shared timeline and layout. ``rooms.py`` feeds it checked messages and sends
what changed to everyone; nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from .messages import LayoutChange, Lead, Refused, StateChange
from .timeline import Layout, Timeline


@dataclass
class WatchSession:
    """``host_id`` started it; ``invited`` may join too (while they may view the lesson, which
    the room checks). ``leader`` is None while everyone steers."""

    id: str
    lesson_id: str
    host_id: int
    duration_s: float
    invited: set[int] = field(default_factory=set)
    timeline: Timeline = field(default_factory=Timeline)
    layout: Layout = field(default_factory=Layout)
    leader: int | None = None
    present: dict[int, int] = field(default_factory=dict)  # connection id -> user id

    def may_join(self, user_id: int) -> bool:
        return user_id == self.host_id or user_id in self.invited

    def invite(self, user_id: int) -> None:
        self.invited.add(user_id)

    def uninvite(self, user_id: int) -> None:
        """She may no longer join (removed by the host); her connections are the room's to
        close. The lead, if she had it, goes back to the host's choice: everyone steers."""
        self.invited.discard(user_id)
        if self.leader == user_id:
            self.leader = None

    def join(self, connection: int, user_id: int) -> None:
        if not self.may_join(user_id):
            raise Refused("not_invited")
        self.present[connection] = user_id

    def leave(self, connection: int) -> None:
        user_id = self.present.pop(connection, None)
        if user_id is not None and self.leader == user_id and not self.is_present(user_id):
            self.leader = None  # nobody can be made to follow someone who is gone

    def is_present(self, user_id: int) -> bool:
        return user_id in self.present.values()

    def present_users(self) -> list[int]:
        """Each person present once, in the order they came."""
        return list(dict.fromkeys(self.present.values()))

    def may_steer(self, user_id: int) -> bool:
        return self.leader is None or self.leader == user_id

    def steer(self, user_id: int, change: StateChange, now_ms: float) -> Timeline:
        """Play, pause, seek or speed for everyone. Refused ``not_leader`` while someone
        else leads."""
        if not self.may_steer(user_id):
            raise Refused("not_leader")
        self.timeline = self.timeline.changed(
            playing=change.playing,
            position_s=change.position_s,
            rate=change.rate,
            now_ms=now_ms,
            duration_s=self.duration_s,
        )
        return self.timeline

    def lay_out(self, user_id: int, change: LayoutChange) -> Layout:
        if not self.may_steer(user_id):
            raise Refused("not_leader")
        self.layout = Layout(pip=change.pip, swapped=change.swapped)
        return self.layout

    def lead(self, user_id: int, request: Lead) -> int | None:
        """Take, hand over or give up the lead; returns the new leader (None: everyone
        steers). Only the one who started may take it, at any time ("follow me"); the
        leader may give it to someone present or release it."""
        if request.action == "take":
            if user_id != self.host_id:
                raise Refused("not_host")
            self.leader = user_id
        elif request.action == "give":
            if self.leader != user_id:
                raise Refused("not_leader")
            if request.to is None or not self.is_present(request.to):
                raise Refused("not_present")
            self.leader = request.to
        else:
            if self.leader != user_id and user_id != self.host_id:
                raise Refused("not_leader")
            self.leader = None
        return self.leader
