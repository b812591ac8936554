"""Interaction coding: a coach marks each behaviour of teacher and pupils at its moment in a
lesson (point events) or over its span (state events), with a coding scheme the school
defines (``[coding]`` in the server config) or a coach makes in the web app.

The policies are pure and unit-tested on their own: the scheme's rules (``schemes.py``), what a
key press does to a coding (``events.py``), the analysis (``analysis.py``), the agreement
between two coders (``agreement.py``) and the file formats researchers exchange
(``tabular.py`` for CSV and BORIS, ``elan.py`` for ELAN). The database lives at the edges:
``store.py`` keeps scheme versions, ``codings.py`` the codings, their events and their undo
history. Access to the lesson is checked by the caller first; who sees which coding is decided
in ``codings.py``. Nothing here imports ``coaching/``: the adapters add the trajectory a lesson
is in.
"""
