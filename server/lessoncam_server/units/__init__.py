"""Classroom units and what they send: enrolment and heartbeats (the fleet), claims, their
recordings, and the wire format both sides share (the manifest)."""
