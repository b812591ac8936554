"""The trajectory named in an API URL, with the caller's access (the check in
``coaching/trajectories.checked``, audited on every refusal), shared by the trajectory routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..access.permissions import TrajectoryAccess
from ..access.principal import User
from ..coaching import trajectories
from ..coaching.trajectories import Need
from ..services import client_address, services_of
from .support import require_user


def trajectory_for(
    request: web.Request, need: Need = "view"
) -> tuple[User, dict[str, Any], TrajectoryAccess]:
    """The trajectory in the URL if the caller may ``need`` it (404 or 403 otherwise)."""
    user = require_user(request)
    row, acc = trajectories.checked(
        services_of(request),
        user,
        request.match_info["trajectory_id"],
        need,
        address=client_address(request),
        path=request.path,
    )
    return user, row, acc
