"""An upload's owner survives a restart as a snapshot, for the completion hook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...access.principal import Principal, Unit, User


def principal_snapshot(principal: Principal) -> dict[str, Any]:
    """What the store keeps about an upload's owner (no session secrets)."""
    if isinstance(principal, Unit):
        return {
            "kind": "unit",
            "id": principal.id,
            "name": principal.name,
            "teacher_id": principal.teacher_id,
        }
    return {
        "kind": "user",
        "id": principal.id,
        "username": principal.username,
        "display_name": principal.display_name,
        "role": principal.role,
    }


def principal_from_snapshot(data: Mapping[str, Any]) -> Principal | None:
    """Rebuild the owner from ``principal_snapshot``; None if the snapshot is unusable."""
    try:
        if data["kind"] == "unit":
            teacher = data.get("teacher_id")
            return Unit(
                id=str(data["id"]),
                name=str(data["name"]),
                teacher_id=int(teacher) if teacher is not None else None,
            )
        if data["kind"] == "user" and data["role"] in ("teacher", "coach", "admin"):
            return User(
                id=int(data["id"]),
                username=str(data["username"]),
                display_name=str(data["display_name"]),
                role=data["role"],
            )
    except (KeyError, TypeError, ValueError):
        pass
    return None
