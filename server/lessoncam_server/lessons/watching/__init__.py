"""Watching a lesson together: one timeline for everyone in a watch-together session.

Pure policies and state (``timeline``, ``messages``, ``session``, ``flood``, ``lifetime``),
the session's records in the database (``records``), and the running rooms that hold the
connected people (``rooms``). The WebSocket and the JSON routes are in ``api/watching.py``;
the player's side is ``web/static/watch.js``.
"""
