"""Bytes arriving: the tus endpoint and its on-disk store, and the hooks that turn a finished
upload into a unit's segment or a lesson uploaded from a browser."""
