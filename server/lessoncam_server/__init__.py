"""lessoncam server: receives lessons from classroom units and serves them to the people allowed."""

from importlib.metadata import version

# The one place the version is written is the package metadata (pyproject.toml).
__version__ = version("lessoncam")
