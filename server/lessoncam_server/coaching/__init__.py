"""Coaching trajectories: the video-coaching cycle around one focus pupil.

A teacher starts a trajectory (her question for help, the pupil as a pseudonym only, the form
of support), invites a coach or colleagues who accept, and links lessons to it; its members
see and comment on those lessons while it is open. Each module offers one function per action
that raises ``infra/errors.py``'s ``DomainError`` with a stable code; who may do what is the
policy in ``access/permissions.py`` (``trajectory_access``, ``lesson_access``).
"""
