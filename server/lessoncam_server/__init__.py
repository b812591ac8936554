"""lessoncam server: receives lessons from classroom units and serves them to the people allowed."""

__version__ = "0.1.0"
