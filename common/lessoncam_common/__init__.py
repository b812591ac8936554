"""What the unit and the server both need, written once so the copies cannot drift apart.

``durable`` (fsync, atomic writes), ``disk`` (is this error a full disk?), ``hashing`` (a
file's sha256) and ``config_errors`` (one readable line per config mistake). Small, with no
dependency beyond pydantic (which both sides have): the unit and the server import this, never
each other.
"""
