"""The viewing guide ("kijkkader") comes from the config: tags, labels, how many per comment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import ready_lesson

RID = "01JD0000000000000000000012"
L = f"/api/v1/lessons/{RID}"


@pytest.fixture
async def lesson(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> str:
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=10)
    return RID


@pytest.fixture
def config_data(tmp_path: Path) -> dict[str, Any]:
    return {
        "storage": {"data_dir": str(tmp_path / "data")},
        "viewing_guide": {
            "tags": [
                {"key": "icalt_1", "en": "Safe climate", "nl": "Veilig klimaat"},
                {"key": "icalt_2", "en": "Efficient management", "nl": "Efficiënt management"},
            ],
            "max_tags_per_comment": 1,
        },
    }


async def test_the_viewing_guide_comes_from_the_config(anna: Person, lesson: str) -> None:
    guide = await anna.json("GET", "/api/v1/viewing-guide")
    assert [t["key"] for t in guide["tags"]] == ["icalt_1", "icalt_2"]
    assert guide["max_tags"] == 1 and guide["tags"][1]["nl"] == "Efficiënt management"
    await anna.json(
        "POST", f"{L}/comments", 201, json={"body": "a", "start_s": 1, "tags": ["icalt_2"]}
    )
    two = {"body": "b", "start_s": 1, "tags": ["icalt_1", "icalt_2"]}
    assert (await anna.json("POST", f"{L}/comments", 422, json=two))["error"] == "too_many_tags"
    old = {"body": "c", "start_s": 1, "tags": ["instruction"]}
    assert (await anna.json("POST", f"{L}/comments", 422, json=old))["error"] == "unknown_tag"
