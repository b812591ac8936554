"""lessoncam device: the classroom unit's daemon and tools."""

__version__ = "0.1.0"
