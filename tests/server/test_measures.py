"""The pupil's progress: SDQ scale scores (the total and the published bands computed, never
the items), other instruments from the config, and the charts as SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lessoncam_common.config_errors import ConfigError
from lessoncam_server.coaching import measures
from lessoncam_server.config import SDQ_TEACHER, parse_config
from lessoncam_server.infra.errors import Invalid
from lessoncam_server.services import Services
from lessoncam_server.web.charts import Point, Zone, measure_chart

from .helpers import Person
from .test_trajectories import T, trajectory_with

START = {"emotional": 4, "conduct": 5, "hyperactivity": 8, "peer": 3, "prosocial": 4, "impact": 3}
END = {"emotional": 2, "conduct": 2, "hyperactivity": 6, "peer": 2, "prosocial": 7, "impact": 1}
SVG = "{http://www.w3.org/2000/svg}"


def test_sdq_totals_and_published_bands() -> None:
    assert measures.total(SDQ_TEACHER, START) == 20  # the four difficulty scales
    assert measures.total(SDQ_TEACHER, END) == 12
    band = measures.band
    total_bands = SDQ_TEACHER.total_bands
    assert [band(total_bands, v).en for v in (11, 12, 15, 16, 18, 19, 40)] == [  # type: ignore[union-attr]
        "close to average",
        "slightly raised",
        "slightly raised",
        "high",
        "high",
        "very high",
        "very high",
    ]
    prosocial = next(s for s in SDQ_TEACHER.scales if s.key == "prosocial")
    assert [band(prosocial.bands, v).en for v in (10, 6, 5, 4, 3, 0)] == [  # type: ignore[union-attr]
        "close to average",
        "close to average",
        "slightly lowered",
        "low",
        "very low",
        "very low",
    ]
    hyper = next(s for s in SDQ_TEACHER.scales if s.key == "hyperactivity")
    assert band(hyper.bands, 8).nl == "hoog" and band(hyper.bands, None) is None  # type: ignore[union-attr]


def test_scores_outside_their_scale_are_refused() -> None:
    assert measures.check_scores(SDQ_TEACHER, START) == START
    for code, scores in {
        "score_out_of_range": {**START, "emotional": 11},
        "score_out_of_range ": {**START, "impact": 7},
        "score_out_of_range  ": {**START, "peer": -1},
        "score_out_of_range   ": {**START, "peer": "3"},
        "score_required": {k: v for k, v in START.items() if k != "conduct"},
        "unknown_scale": {**START, "total": 20},
    }.items():
        with pytest.raises(Invalid) as refused:
            measures.check_scores(SDQ_TEACHER, scores)
        assert refused.value.code == code.strip(), code


def test_progress_from_start_to_end() -> None:
    taken = [
        {"instrument": "sdq_teacher", "moment": "end", "measured_on": "2027-02-01", "scores": END},
        {
            "instrument": "sdq_teacher",
            "moment": "start",
            "measured_on": "2026-11-02",
            "scores": START,
        },
    ]
    items = {item["row"]["key"]: item for item in measures.progress(SDQ_TEACHER, taken)}
    total = items["total"]
    assert [p[2] for p in total["points"]] == [20, 12]
    assert total["change"] == -8 and total["first_band"].en == "very high"
    assert total["last_band"].en == "slightly raised"
    assert items["prosocial"]["change"] == 3 and items["prosocial"]["last_band"].level == 0
    alone = measures.progress(SDQ_TEACHER, taken[1:])
    assert alone[0]["change"] is None and alone[0]["last"] is None


def test_another_instrument_from_the_config() -> None:
    scale = {"key": "calm", "en": "Calm", "nl": "Rust", "max": 4, "in_total": True}
    tool = {"key": "own", "en": "Own", "nl": "Eigen", "scales": [scale], "total_en": "Sum"}
    config = parse_config({"measures": {"instruments": [tool]}})
    assert config.measures.instruments[0].scales[0].max == 4
    gap = {**scale, "bands": [{"min": 0, "max": 1, "level": 0, "en": "ok", "nl": "ok"}]}
    with pytest.raises(ConfigError, match="without gaps"):
        parse_config({"measures": {"instruments": [{**tool, "scales": [gap]}]}})
    twice = {**tool, "scales": [scale, scale]}
    with pytest.raises(ConfigError, match="unique"):
        parse_config({"measures": {"instruments": [twice]}})


def test_the_chart_is_plain_svg_with_a_point_per_measure() -> None:
    chart = measure_chart(
        "Total <difficulties>",
        0,
        40,
        [Zone(0, 11, 0), Zone(12, 15, 1), Zone(16, 18, 2), Zone(19, 40, 3)],
        [Point("Start", "2 Nov 2026", 20), Point("End", "1 Feb 2027", 12)],
    )
    root = ET.fromstring(str(chart))  # noqa: S314 - our own output
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Total <difficulties>"  # type: ignore[union-attr]
    assert "<difficulties>" not in str(chart)  # escaped
    points = root.findall(f"{SVG}circle")
    assert len(points) == 2 and float(points[0].get("cy", 0)) < float(points[1].get("cy", 0))
    values = [t.text for t in root.findall(f"{SVG}text") if t.get("class") == "value"]
    assert values == ["20", "12"]
    assert len([r for r in root.findall(f"{SVG}rect") if "zone" in (r.get("class") or "")]) == 4
    assert "style" not in str(chart) and "script" not in str(chart)


async def test_the_teacher_enters_measures_and_members_read_them(
    anna: Person, sign_in: Callable[..., Awaitable[Person]], services: Services
) -> None:
    coach = await sign_in("coach", "coach")
    tid = await trajectory_with(anna, coach)
    path = f"{T}/{tid}/measures"
    start: dict[str, Any] = {"moment": "start", "measured_on": "2026-11-02", "scores": START}
    wrong = {**start, "scores": {**START, "conduct": 12}}
    assert (await anna.json("POST", path, 422, json=wrong))["error"] == "score_out_of_range"
    assert services.db.execute("SELECT COUNT(*) FROM trajectory_measures").fetchone()[0] == 0
    assert (await coach.json("POST", path, 403, json=start))["error"] == "forbidden"
    made = await anna.json("POST", path, 201, json=start)
    assert made["measure"]["scores"]["total"] == 20
    assert made["measure"]["bands"]["total"]["en"] == "very high"
    assert (await anna.json("POST", path, 409, json=start))["error"] == "measure_exists"
    later = {**start, "measured_on": "2026-11-03"}
    assert (await anna.json("POST", path, 422, json=later))["error"] == "measure_date_future"
    other = {**start, "instrument": "cito"}
    assert (await anna.json("POST", path, 422, json=other))["error"] == "instrument_unknown"
    await anna.json("POST", path, 201, json={**start, "moment": "end", "scores": END})
    seen = await coach.json("GET", path)
    total = next(c for c in seen["change"]["sdq_teacher"] if c["scale"] == "total")
    assert (total["first"], total["last"], total["change"]) == (20, 12, -8)
    assert total["last_band"]["en"] == "slightly raised"
    first = made["measure"]["id"]
    await coach.json("DELETE", f"{path}/{first}", 403)
    await anna.json("DELETE", f"{path}/{first}", 204)
    await anna.json("DELETE", f"{path}/{first}", 404)
    instruments = await coach.json("GET", "/api/v1/instruments")
    assert [i["key"] for i in instruments["instruments"]] == ["sdq_teacher"]
