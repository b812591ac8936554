"""lessoncam device: the classroom unit's daemon and tools."""

from importlib.metadata import version

# The one place the version is written is the package metadata (pyproject.toml); the heartbeat
# and each recording's manifest report it.
__version__ = version("lessoncam")
