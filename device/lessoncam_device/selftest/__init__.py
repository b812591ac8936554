"""``lessoncam-device selftest``: ICT's check of an installed unit, part by part.

Each fitted part is tried the way a lesson uses it, and each check passes, fails with the fix
named, or says it was skipped and why (see ``report.py``). The cameras, encoder, microphone,
marker and motor are checked during one short recording (``recording.py``, ``runner.py``);
the button and light need a person at the unit (``controls.py``); the disk and the server
need nobody (``unit.py``). No pytest and no server code is needed on the unit.
"""
