"""Device-test rules that need no fixture: the rehearsal's known gaps (``rehearsal_gaps``)."""

from __future__ import annotations

import pytest

from .rehearsal_gaps import SERVER_ASSEMBLES, need_server_pyav


@pytest.fixture(autouse=True)
def _server_pyav(request: pytest.FixtureRequest) -> None:
    """A test marked ``server_assembles`` needs the server's PyAV (see ``rehearsal_gaps``)."""
    if request.node.get_closest_marker(SERVER_ASSEMBLES) is not None:
        need_server_pyav()
