"""Interaction coding's pure policies, on codings with known answers: the scheme's rules, what
a key press does, the analysis, Cohen's kappa (against scikit-learn's ``cohen_kappa_score``)
and the file formats (BORIS's documented columns, ELAN read back with pympi-ling)."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pympi import Elan
from sklearn.metrics import cohen_kappa_score

from lessoncam_server.coding import agreement, analysis, elan, events, schemes, tabular
from lessoncam_server.coding.events import Event
from lessoncam_server.coding.schemes import DEFAULT_SCHEME as S
from lessoncam_server.config import parse_config
from lessoncam_server.infra.errors import DomainError

from .. import reliability

DURATION = 600.0
LESSON = tabular.LessonInfo("01JD0000000000000000000009", "2026-11-02T09:00:00+00:00", DURATION)


def code(evs: list[Event], key: str, t: float, action: Any = "toggle", **mods: str) -> list[Event]:
    behaviour = events.behaviour_for_key(S, key)
    modifiers = events.check_modifiers(S, behaviour, mods)
    out = events.press(S, evs, behaviour, events.check_time(t, DURATION), modifiers, action)
    return events.check_events(S, out, DURATION, 5000)


def refused(code_: str, call: Any, *args: Any) -> None:
    with pytest.raises(DomainError) as caught:
        call(*args)
    assert caught.value.code == code_, caught.value.message


# --- schemes --------------------------------------------------------------------------------


def test_the_default_scheme_has_the_contact_cycle_and_a_config_can_replace_it() -> None:
    keys = [b.key for b in S.behaviours]
    for wanted in (
        "initiative_teacher",
        "initiative_pupil",
        "received",
        "named",
        "turn_given",
        "closed",
        "compliment",
        "instruction",
        "correction",
    ):
        assert wanted in keys
    assert parse_config({}).coding.schemes == (S,)
    mine = {
        "key": "mine",
        "en": "Mine",
        "nl": "Mijn",
        "behaviours": [{"key": "ask", "shortcut": "q", "en": "Asks", "nl": "Vraagt"}],
    }
    config = parse_config({"coding": {"schemes": [mine], "agreement_tolerance_s": 1.5}})
    assert config.coding.schemes[0].behaviours[0].type == "point"
    assert config.coding.agreement_tolerance_s == 1.5


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"shortcut": "t"}, "shortcuts must be unique"),
        ({"modifiers": ["mood"]}, "no modifier 'mood'"),
        ({"group": "talk"}, "only state events"),
        ({"shortcut": " "}, "shortcut"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_broken_scheme_is_refused_with_what_is_wrong(change: dict[str, Any], words: str) -> None:
    definition = S.model_dump(mode="json")
    definition["behaviours"][1] = {**definition["behaviours"][1], **change}
    with pytest.raises(DomainError) as caught:
        schemes.parse(definition)
    assert caught.value.code == "scheme_invalid"
    assert words in caught.value.message


# --- key presses ----------------------------------------------------------------------------


def test_points_states_modifiers_and_the_exclusive_group() -> None:
    evs = code([], "t", 10, who="focus_pupil")
    evs = code(evs, "i", 12)  # instruction starts
    evs = code(evs, "h", 30, who="focus_pupil")  # individual help stops instruction
    evs = code(evs, "h", 45)  # and stops itself
    assert [(e.behaviour, e.start_s, e.end_s, e.modifiers) for e in evs] == [
        ("initiative_teacher", 10.0, None, (("who", "focus_pupil"),)),
        ("instruction", 12.0, 30.0, ()),
        ("individual_help", 30.0, 45.0, (("who", "focus_pupil"),)),
    ]
    evs = code(evs, "i", 50)
    assert evs[-1].open


@pytest.mark.parametrize(
    ("key", "t", "action", "mods", "error"),
    [
        ("x", 5, "toggle", {}, "unknown_key"),
        ("t", 601, "toggle", {}, "time_past_end"),
        ("t", -1, "toggle", {}, "time_negative"),
        ("t", math.nan, "toggle", {}, "time_invalid"),
        ("t", 5, "toggle", {"who": "dog"}, "unknown_modifier"),
        ("r", 5, "toggle", {"who": "group"}, "unknown_modifier"),
        ("i", 5, "stop", {}, "state_not_started"),
        ("t", 5, "start", {}, "not_a_state"),
    ],
)
def test_bad_presses_are_refused(
    key: str, t: float, action: str, mods: dict[str, str], error: str
) -> None:
    refused(error, lambda: code([], key, t, action, **mods))


def test_a_state_cannot_overlap_itself_or_stop_before_it_started() -> None:
    evs = code(code([], "i", 10), "i", 20)
    refused("state_overlap", code, evs, "i", 15)
    evs = code(evs, "i", 40)
    refused("stop_before_start", code, evs, "i", 30)
    refused("state_already_started", code, evs, "i", 50, "start")
    moved = events.move([Event("instruction", 10, 20, id=1)], 1, None, 5)
    refused("stop_before_start", events.check_events, S, moved, DURATION, 100)
    refused("point_has_stop", events.check_events, S, [Event("received", 1, 2)], DURATION, 100)
    refused("too_many_events", events.check_events, S, [Event("received", 1)] * 3, DURATION, 2)
    clash = [Event("instruction", 10, 20), Event("individual_help", 15, 30)]
    refused("exclusive_overlap", events.check_events, S, clash, DURATION, 100)
    refused("event_not_found", events.remove, clash, 7)


# --- analysis -------------------------------------------------------------------------------


def known_coding() -> list[Event]:
    """Two minutes with known figures: 3 teacher initiatives (2 to the focus pupil), 2
    closes, instruction 0-30 and 60-90 (60 s), individual help 30-45."""
    return [
        Event("initiative_teacher", 10, None, (("who", "focus_pupil"),)),
        Event("received", 11),
        Event("closed", 14),
        Event("initiative_teacher", 50, None, (("who", "group"),)),
        Event("initiative_teacher", 100, None, (("who", "focus_pupil"),)),
        Event("closed", 103),
        Event("instruction", 0, 30),
        Event("individual_help", 30, 45, (("who", "focus_pupil"),)),
        Event("instruction", 60, 90),
    ]


def test_the_analysis_of_a_coding_with_known_answers() -> None:
    part = analysis.span(120.0)
    out = analysis.analyse(S, known_coding(), 120.0, part, window_s=5)
    rows = {b["key"]: b for b in out["behaviours"]}
    assert rows["initiative_teacher"]["count"] == 3
    assert rows["initiative_teacher"]["rate_per_min"] == 1.5
    assert rows["closed"]["count"] == 2
    assert rows["instruction"] | {} == {
        **rows["instruction"],
        "count": 2,
        "total_s": 60.0,
        "mean_s": 30.0,
        "share": 0.5,
    }
    assert rows["individual_help"]["share"] == 0.125
    per = {(m["behaviour"], m["value"]): m for m in out["modifiers"]}
    assert per[("initiative_teacher", "focus_pupil")]["count"] == 2
    assert per[("initiative_teacher", "group")]["count"] == 1
    assert per[("individual_help", "focus_pupil")]["total_s"] == 15.0
    nxt = out["transitions"]["next"]
    within = out["transitions"]["within"]
    # 10 -> received (11); 50 -> nothing within 5 s; 100 -> closed (103).
    assert nxt["initiative_teacher"]["received"] == 1
    assert nxt["initiative_teacher"]["closed"] == 1
    assert nxt["initiative_teacher"]["none"] == 1
    # Initiatives followed by a close within 5 s: 2 of 3 (the one at 50 is not).
    assert within["initiative_teacher"]["closed"] == 2


def test_the_analysis_over_a_fragment_clips_the_states() -> None:
    part = analysis.span(120.0, 20, 80)
    out = analysis.analyse(S, known_coding(), 120.0, part, window_s=5)
    rows = {b["key"]: b for b in out["behaviours"]}
    assert rows["initiative_teacher"]["count"] == 1  # only the one at 50
    assert rows["instruction"]["total_s"] == 30.0  # 20-30 and 60-80
    assert rows["instruction"]["count"] == 2
    assert rows["instruction"]["share"] == 0.5
    assert rows["initiative_teacher"]["rate_per_min"] == 1.0
    refused("fragment_invalid", analysis.span, 120.0, 80, 20)


def test_an_open_state_lasts_until_the_end_of_the_lesson() -> None:
    out = analysis.analyse(S, [Event("instruction", 90)], 120.0, analysis.span(120.0), 5)
    assert next(b for b in out["behaviours"] if b["key"] == "instruction")["total_s"] == 30.0


# --- agreement ------------------------------------------------------------------------------


def sklearn_kappa(sequence: list[list[str]]) -> float:
    return float(cohen_kappa_score([a for a, _ in sequence], [b for _, b in sequence]))


def points(*items: tuple[str, float]) -> list[Event]:
    return [Event(key, t) for key, t in items]


CASES = {
    "perfect": (
        points(("received", 10), ("closed", 20), ("named", 30), ("closed", 40)),
        points(("received", 10.5), ("closed", 21.9), ("named", 29), ("closed", 40)),
    ),
    "one coder missing events": (
        points(("received", 10), ("closed", 20), ("named", 30), ("closed", 40), ("named", 50)),
        points(("received", 10), ("closed", 20), ("named", 31)),
    ),
    "confusions and misses": (
        points(("received", 10), ("closed", 20), ("named", 30), ("closed", 40), ("received", 60)),
        points(("named", 10.4), ("closed", 19), ("named", 30), ("received", 41.5), ("closed", 70)),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_kappa_matches_scikit_learn_on_the_matched_sequence(case: str) -> None:
    a, b = CASES[case]
    out = agreement.agreement(S, a, b, tolerance_s=2.0)
    assert out["kappa"] == pytest.approx(sklearn_kappa(out["sequence"]), abs=1e-4)
    for row in out["per_behaviour"]:
        if row["kappa"] is None:
            continue
        binary = [["y" if x == row["key"] else "n" for x in pair] for pair in out["sequence"]]
        assert row["kappa"] == pytest.approx(sklearn_kappa(binary), abs=1e-4)
    if case == "perfect":
        assert out["kappa"] == 1.0 and out["unmatched"] == 0
    if case == "one coder missing events":
        assert out["unmatched"] == 2 and out["table"]["closed"]["none"] == 1
        assert out["table"]["named"]["none"] == 1 and out["agreed"] == 3


def test_kappa_is_zero_when_agreement_is_what_chance_gives() -> None:
    # 2x2 table [[1, 1], [1, 1]]: p_o = 0.5 = p_e.
    a = points(("received", 10), ("received", 20), ("closed", 30), ("closed", 40))
    b = points(("received", 10), ("closed", 20), ("received", 30), ("closed", 40))
    out = agreement.agreement(S, a, b, tolerance_s=2.0)
    assert out["kappa"] == 0.0 == pytest.approx(sklearn_kappa(out["sequence"]))


def test_the_tolerance_window_decides_what_matches() -> None:
    a, b = points(("received", 10)), points(("received", 12.5))
    assert agreement.agreement(S, a, b, 2.0)["sequence"] == [
        ["received", "none"],
        ["none", "received"],
    ]
    assert agreement.agreement(S, a, b, 3.0)["sequence"] == [["received", "received"]]
    assert agreement.cohen_kappa([], []) is None
    assert agreement.cohen_kappa(["a", "a"], ["a", "a"]) is None  # p_e = 1: undefined


# --- exports and imports --------------------------------------------------------------------

# The columns BORIS's "Export events" (tabular) writes for one media file, in order
# (boris/export_observation.py, export_tabular_events, BORIS v8), with one modifier column.
BORIS_DOCUMENTED = [
    "Observation id",
    "Observation date",
    "Description",
    "Observation duration",
    "Observation type",
    "Source",
    "Time offset (s)",
    "Media duration (s)",
    "FPS",
    "Subject",
    "Behavior",
    "Behavioral category",
    "Modifier #1",
    "Behavior type",
    "Time",
    "Media file name",
    "Image index",
    "Image file path",
    "Comment",
]


def test_the_boris_file_has_borises_columns_and_reads_back() -> None:
    coding = known_coding()
    text = tabular.boris_events(S, coding, LESSON, "coder-1")
    table = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert table[0] == BORIS_DOCUMENTED
    assert all(len(row) == len(BORIS_DOCUMENTED) for row in table)
    statuses = [row[13] for row in table[1:]]
    assert statuses.count("START") == statuses.count("STOP") == 3
    assert statuses.count("POINT") == 6
    first = dict(zip(table[0], table[1], strict=True))
    assert first["Behavior"] == "instruction" and first["Time"] == "0.000"
    assert first["Media duration (s)"] == "600.000"
    back = tabular.read_boris(S, text, DURATION)
    assert sorted(back, key=_order) == sorted(coding, key=_order)


def _order(e: Event) -> tuple[float, str]:
    return (e.start_s, e.behaviour)


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda t: t.replace("600.000", "598.000"), "import_length_mismatch"),
        (lambda t: t.replace("instruction", "shouting"), "unknown_behaviour"),
        (lambda t: t.replace("Behavior type", "Kind"), "import_malformed"),
        (lambda t: t.replace("\tSTART\t", "\tPOINT\t", 1), "behaviour_type_mismatch"),
        (lambda t: t.replace("\tSTART\t0.000", "\tSTOP\t0.000", 1), "state_not_started"),
        (lambda t: t.replace("focus_pupil", "dog", 1), "unknown_modifier"),
        (lambda t: t.replace("\t50.000\t", "\tlater\t"), "import_malformed"),
    ],
)
def test_a_bad_boris_file_is_refused_with_its_code(edit: Any, error: str) -> None:
    text = edit(tabular.boris_events(S, known_coding(), LESSON, "coder-1"))
    refused(error, tabular.read_boris, S, text, DURATION)


def test_the_boris_length_message_gives_both_lengths() -> None:
    with pytest.raises(DomainError) as caught:
        tabular.check_length(598.0, 600.0)
    assert "598.000 s" in caught.value.message and "600.000 s" in caught.value.message


def test_the_csv_has_a_row_per_point_and_two_per_state() -> None:
    text = tabular.csv_events(S, known_coding(), "coder-1", DURATION, "nl")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0] == ["time_s", "behaviour", "label", "type", "event", "modifiers", "coder"]
    assert len(table) == 1 + 6 + 2 * 3
    assert table[1] == ["0.000", "instruction", "Instructie", "state", "start", "", "coder-1"]
    assert [
        "10.000",
        "initiative_teacher",
        "Initiatief van de leerkracht",
        "point",
        "point",
        "who=focus_pupil",
        "coder-1",
    ] in table


NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize("layout", ["behaviour", "coder"])
def test_the_eaf_export_reads_back_with_pympi_and_imports_again(
    layout: Any, tmp_path: Path
) -> None:
    coding = known_coding()
    text = elan.write(S, [("coder-1", coding)], LESSON, layout, NOW)
    path = tmp_path / "coding.eaf"
    path.write_text(text, encoding="utf-8")
    eaf = Elan.Eaf(str(path))
    if layout == "behaviour":
        assert set(eaf.get_tier_names()) == {b.key for b in S.behaviours}
        spans = sorted(eaf.get_annotation_data_for_tier("instruction"))
        assert spans == [(0, 30000, ""), (60000, 90000, "")]
        starts = sorted(a[0] for a in eaf.get_annotation_data_for_tier("initiative_teacher"))
        assert starts == [10000, 50000, 100000]
    else:
        assert list(eaf.get_tier_names()) == ["coder-1"]
        values = {a[2] for a in eaf.get_annotation_data_for_tier("coder-1")}
        assert "initiative_teacher who=focus_pupil" in values
        assert len(eaf.get_annotation_data_for_tier("coder-1")) == len(coding)
    back = elan.read(S, text, DURATION)
    assert sorted(back, key=_order) == sorted(coding, key=_order)


def test_an_eaf_written_by_pympi_imports_without_a_length(tmp_path: Path) -> None:
    eaf = Elan.Eaf()
    eaf.add_tier("closed")
    eaf.add_annotation("closed", 5000, 5040)
    eaf.add_tier("instruction")
    eaf.add_annotation("instruction", 1000, 4000)
    path = tmp_path / "pympi.eaf"
    Elan.to_eaf(str(path), eaf)
    back = elan.read(S, path.read_text(encoding="utf-8"), DURATION)
    assert sorted(back, key=_order) == [Event("instruction", 1.0, 4.0), Event("closed", 5.0)]


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda t: t.replace(">600000<", ">590000<"), "import_length_mismatch"),
        (lambda t: t[: len(t) // 2], "import_malformed"),
        (lambda t: t.replace('TIER_ID="closed"', 'TIER_ID="shouting"'), "unknown_behaviour"),
        (
            lambda t: t.replace(
                '<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE x [<!ENTITY e "e">]>'
            ),
            "import_malformed",
        ),
        (lambda t: t.replace("ANNOTATION_DOCUMENT", "HTML"), "import_malformed"),
        (lambda t: t.replace("who=focus_pupil", "who"), "unknown_modifier"),
        (lambda t: t.replace('TIME_VALUE="10000"', 'TIME_VALUE="ten"'), "import_malformed"),
    ],
)
def test_a_bad_eaf_is_refused_with_its_code(edit: Any, error: str) -> None:
    text = edit(elan.write(S, [("coder-1", known_coding())], LESSON, "behaviour", NOW))
    refused(error, elan.read, S, text, DURATION)


# --- files from outside: any text is read or refused with a DomainError --------------------

FUZZ = settings(max_examples=reliability.sized(60, 1000), deadline=None, database=None)
BORIS_TEXT = tabular.boris_events(S, known_coding(), LESSON, "coder-1")
EAF_TEXT = elan.write(S, [("coder-1", known_coding())], LESSON, "behaviour", NOW)


def _mutations(text: str) -> st.SearchStrategy[str]:
    """The text with a slice replaced by other text: mostly well-formed, subtly wrong."""
    return st.tuples(st.integers(0, len(text)), st.integers(0, 40), st.text(max_size=12)).map(
        lambda cut: text[: cut[0]] + cut[2] + text[cut[0] + cut[1] :]
    )


@FUZZ
@given(text=_mutations(BORIS_TEXT) | st.text(max_size=300))
def test_any_boris_text_is_read_or_refused_cleanly(text: str) -> None:
    try:
        found = tabular.read_boris(S, text, DURATION)
        events.check_events(S, found, DURATION, 5000)
    except DomainError as exc:
        assert exc.code and exc.message


@FUZZ
@given(text=_mutations(EAF_TEXT) | st.text(max_size=300))
def test_any_eaf_text_is_read_or_refused_cleanly(text: str) -> None:
    try:
        found = elan.read(S, text, DURATION)
        events.check_events(S, found, DURATION, 5000)
    except DomainError as exc:
        assert exc.code and exc.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


@FUZZ
@given(definition=json_values)
def test_any_json_is_a_scheme_or_scheme_invalid(definition: Any) -> None:
    try:
        schemes.parse(definition)
    except DomainError as exc:
        assert exc.code == "scheme_invalid"
