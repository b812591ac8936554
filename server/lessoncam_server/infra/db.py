"""The server's SQLite database: opened in WAL mode, migrated at start-up."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("lessoncam_server")


@migrations()
def m001_initial(db: Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('teacher', 'coach', 'admin')),
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            password_changed_at TEXT NOT NULL
        );
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            client_ip TEXT
        );
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE TABLE enrolment_codes (
            code_hash TEXT PRIMARY KEY,
            unit_name TEXT NOT NULL,
            created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT,
            unit_id TEXT
        );
        CREATE TABLE units (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            teacher_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            enrolled_at TEXT NOT NULL,
            revoked_at TEXT,
            last_seen_at TEXT,
            state TEXT,
            version TEXT,
            free_disk_bytes INTEGER,
            temperature_c REAL,
            queue_length INTEGER,
            last_error TEXT,
            tracking TEXT,
            snapshot_at TEXT
        );
        CREATE TABLE recordings (
            id TEXT PRIMARY KEY,
            unit_id TEXT REFERENCES units(id) ON DELETE SET NULL,
            owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            title TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL,
            manifest TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('receiving', 'assembling', 'ready', 'failed')),
            state_reason TEXT,
            expected_segments TEXT,
            interrupted INTEGER NOT NULL DEFAULT 0,
            duration_s REAL,
            created_at TEXT NOT NULL,
            completed_at TEXT,
            ready_at TEXT,
            media_version INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX recordings_owner ON recordings(owner_id, started_at);
        CREATE INDEX recordings_state ON recordings(state);
        CREATE TABLE segments (
            recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            camera TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            start_s REAL NOT NULL,
            duration_s REAL NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (recording_id, camera, sequence)
        );
        CREATE TABLE media (
            recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            camera TEXT NOT NULL,
            file_name TEXT NOT NULL,
            duration_s REAL NOT NULL,
            width INTEGER,
            height INTEGER,
            has_audio INTEGER NOT NULL,
            size INTEGER NOT NULL,
            gaps TEXT NOT NULL DEFAULT '[]',
            thumbs TEXT,
            PRIMARY KEY (recording_id, camera)
        );
        CREATE TABLE shares (
            id INTEGER PRIMARY KEY,
            recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'commenter')),
            created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT
        );
        CREATE INDEX shares_user ON shares(user_id);
        CREATE INDEX shares_recording ON shares(recording_id);
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor_kind TEXT NOT NULL,
            actor_id TEXT,
            actor_name TEXT,
            action TEXT NOT NULL,
            object_kind TEXT,
            object_id TEXT,
            outcome TEXT NOT NULL,
            client_ip TEXT,
            detail TEXT
        );
        CREATE INDEX audit_at ON audit(at);
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    )


@migrations()
def m002_enrolment_code_teacher(db: Database) -> None:
    # A code may name the teacher the unit is for, so ICT enrols and assigns in one step.
    db.execute("ALTER TABLE enrolment_codes ADD COLUMN teacher_id INTEGER REFERENCES users(id)")


@migrations()
def m003_comments(db: Database) -> None:
    # A comment sits at a moment (end_s NULL) or over a fragment; replies point at their thread.
    _run_script(
        db,
        """
        CREATE TABLE comments (
            id INTEGER PRIMARY KEY,
            recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            author_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            parent_id INTEGER REFERENCES comments(id) ON DELETE CASCADE,
            start_s REAL NOT NULL,
            end_s REAL,
            body TEXT NOT NULL,
            visibility TEXT NOT NULL CHECK (visibility IN ('shared', 'private')),
            tags TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            edited_at TEXT
        );
        CREATE INDEX comments_recording ON comments(recording_id, start_s);
        CREATE INDEX comments_parent ON comments(parent_id)
        """,
    )


@migrations()
def m004_views_and_clips(db: Database) -> None:
    # Who opened a lesson (not its owner); clips and browser uploads are recordings too.
    _run_script(
        db,
        """
        CREATE TABLE lesson_views (
            recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (recording_id, user_id)
        );
        ALTER TABLE recordings ADD COLUMN kind TEXT NOT NULL DEFAULT 'unit'
            CHECK (kind IN ('unit', 'clip', 'upload'));
        ALTER TABLE recordings ADD COLUMN source_id TEXT
            REFERENCES recordings(id) ON DELETE SET NULL;
        ALTER TABLE recordings ADD COLUMN source_start_s REAL;
        ALTER TABLE recordings ADD COLUMN source_end_s REAL;
        CREATE INDEX recordings_source ON recordings(source_id)
        """,
    )


@migrations()
def m005_unit_claims(db: Database) -> None:
    # A teacher's claim on a unit: its lessons are hers while the claim holds. Kept after it
    # ends, so who owned the unit at any moment can be told (and audited).
    _run_script(
        db,
        """
        CREATE TABLE unit_claims (
            id INTEGER PRIMARY KEY,
            unit_id TEXT NOT NULL REFERENCES units(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            claimed_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ended_at TEXT,
            ended_by INTEGER REFERENCES users(id) ON DELETE SET NULL
        );
        CREATE INDEX unit_claims_unit ON unit_claims(unit_id, claimed_at)
        """,
    )


@migrations()
def m006_trajectories(db: Database) -> None:
    # A coaching trajectory around one pupil (a pseudonym, never a name), the people invited
    # into it, and the lessons in it (a lesson is in one trajectory at most). A member's row is
    # kept after she declines, leaves or is removed (ended_*), so the history can be told.
    _run_script(
        db,
        """
        CREATE TABLE trajectories (
            id INTEGER PRIMARY KEY,
            teacher_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            question TEXT NOT NULL,
            pupil_label TEXT NOT NULL,
            pupil_group TEXT NOT NULL,
            pupil_birth_year INTEGER,
            support TEXT NOT NULL
                CHECK (support IN ('video_coach', 'support_teacher', 'colleague', 'own')),
            viewing_guide TEXT NOT NULL CHECK (viewing_guide IN ('school', 'question', 'open')),
            viewing_question TEXT NOT NULL DEFAULT '',
            start_date TEXT NOT NULL,
            review_date TEXT,
            status TEXT NOT NULL CHECK (status IN ('intake', 'running', 'closed')),
            closing_note TEXT NOT NULL DEFAULT '',
            record_new INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            closed_at TEXT
        );
        CREATE INDEX trajectories_teacher ON trajectories(teacher_id, status);
        CREATE TABLE trajectory_members (
            id INTEGER PRIMARY KEY,
            trajectory_id INTEGER NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('coach', 'colleague')),
            invited_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            invited_at TEXT NOT NULL,
            accepted_at TEXT,
            ended_at TEXT,
            ended_how TEXT CHECK (ended_how IN ('declined', 'left', 'removed')),
            ended_by INTEGER REFERENCES users(id) ON DELETE SET NULL
        );
        CREATE UNIQUE INDEX trajectory_members_open
            ON trajectory_members(trajectory_id, user_id) WHERE ended_at IS NULL;
        CREATE INDEX trajectory_members_user ON trajectory_members(user_id);
        CREATE TABLE trajectory_lessons (
            recording_id TEXT PRIMARY KEY REFERENCES recordings(id) ON DELETE CASCADE,
            trajectory_id INTEGER NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            linked_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            linked_at TEXT NOT NULL
        );
        CREATE INDEX trajectory_lessons_trajectory ON trajectory_lessons(trajectory_id);
        ALTER TABLE unit_claims ADD COLUMN trajectory_id INTEGER
            REFERENCES trajectories(id) ON DELETE SET NULL
        """,
    )


@migrations()
def m007_trajectory_consent(db: Database) -> None:
    # The parents' consent for a trajectory's focus pupil: recorded by the teacher, with its
    # scope (recording; watching by the people it names; research use). A new record replaces
    # the old one; a withdrawal ends it. Ended records are kept, so the history can be told.
    _run_script(
        db,
        """
        CREATE TABLE trajectory_consents (
            id INTEGER PRIMARY KEY,
            trajectory_id INTEGER NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            recording INTEGER NOT NULL CHECK (recording IN (0, 1)),
            research INTEGER NOT NULL CHECK (research IN (0, 1)),
            given_on TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            recorded_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            recorded_at TEXT NOT NULL,
            ended_at TEXT,
            ended_how TEXT CHECK (ended_how IN ('replaced', 'withdrawn')),
            ended_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            withdrawn_lessons TEXT CHECK (withdrawn_lessons IN ('take_out', 'delete'))
        );
        CREATE UNIQUE INDEX trajectory_consents_active
            ON trajectory_consents(trajectory_id) WHERE ended_at IS NULL;
        CREATE TABLE consent_watchers (
            consent_id INTEGER NOT NULL REFERENCES trajectory_consents(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (consent_id, user_id)
        )
        """,
    )


@migrations()
def m008_trajectory_steps(db: Database) -> None:
    # The steps of the coaching cycle (intake, the coach's analysis of a lesson, conversations,
    # evaluation), the goals agreed with their state, and the fragments of lessons each refers
    # to (a span of a lesson: deleting the lesson deletes its fragments).
    _run_script(
        db,
        """
        CREATE TABLE trajectory_steps (
            id INTEGER PRIMARY KEY,
            trajectory_id INTEGER NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            kind TEXT NOT NULL
                CHECK (kind IN ('intake', 'analysis', 'conversation', 'evaluation')),
            author_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            recording_id TEXT REFERENCES recordings(id) ON DELETE SET NULL,
            held_on TEXT NOT NULL,
            body TEXT NOT NULL,
            agreed_question TEXT NOT NULL DEFAULT '',
            minutes INTEGER,
            agreements TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE INDEX trajectory_steps_trajectory ON trajectory_steps(trajectory_id, held_on);
        CREATE TABLE step_participants (
            step_id INTEGER NOT NULL REFERENCES trajectory_steps(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (step_id, user_id)
        );
        CREATE TABLE trajectory_goals (
            id INTEGER PRIMARY KEY,
            trajectory_id INTEGER NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            text TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('open', 'working', 'reached')),
            created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            changed_at TEXT NOT NULL
        );
        CREATE INDEX trajectory_goals_trajectory ON trajectory_goals(trajectory_id);
        CREATE TABLE step_fragments (
            id INTEGER PRIMARY KEY,
            step_id INTEGER REFERENCES trajectory_steps(id) ON DELETE CASCADE,
            goal_id INTEGER REFERENCES trajectory_goals(id) ON DELETE CASCADE,
            recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            start_s REAL NOT NULL,
            end_s REAL NOT NULL,
            CHECK ((step_id IS NULL) != (goal_id IS NULL))
        );
        CREATE INDEX step_fragments_step ON step_fragments(step_id);
        CREATE INDEX step_fragments_goal ON step_fragments(goal_id)
        """,
    )


@migrations()
def m009_reflections(db: Database) -> None:
    # Reflection forms by kind and version (an answer keeps the version it was given on), the
    # answers (a teacher's on a lesson, a coach's or colleague's on a conversation; kept when
    # the lesson expires, with the moment it was about), and the seconds each person played
    # each lesson (the reflection's watching minutes).
    _run_script(
        db,
        """
        CREATE TABLE reflection_forms (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('lesson', 'conversation')),
            version INTEGER NOT NULL,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (kind, version)
        );
        CREATE TABLE reflections (
            id INTEGER PRIMARY KEY,
            form_id INTEGER NOT NULL REFERENCES reflection_forms(id),
            kind TEXT NOT NULL CHECK (kind IN ('lesson', 'conversation')),
            recording_id TEXT REFERENCES recordings(id) ON DELETE SET NULL,
            step_id INTEGER REFERENCES trajectory_steps(id) ON DELETE CASCADE,
            subject_at TEXT NOT NULL,
            trajectory_id INTEGER REFERENCES trajectories(id) ON DELETE SET NULL,
            author_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            state TEXT NOT NULL CHECK (state IN ('answered', 'declined')),
            private INTEGER NOT NULL DEFAULT 0,
            answers TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX reflections_lesson ON reflections(recording_id, author_id)
            WHERE recording_id IS NOT NULL;
        CREATE UNIQUE INDEX reflections_step ON reflections(step_id, author_id)
            WHERE step_id IS NOT NULL;
        CREATE INDEX reflections_trajectory ON reflections(trajectory_id);
        CREATE TABLE lesson_playback (
            recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            played_s REAL NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (recording_id, user_id)
        )
        """,
    )


@migrations()
def m010_measures(db: Database) -> None:
    # Measures of the focus pupil (scale scores from a paper form the teacher scored), at
    # the start, the middle and the end of a trajectory: one per instrument and moment.
    _run_script(
        db,
        """
        CREATE TABLE trajectory_measures (
            id INTEGER PRIMARY KEY,
            trajectory_id INTEGER NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            instrument TEXT NOT NULL,
            moment TEXT NOT NULL CHECK (moment IN ('start', 'middle', 'end')),
            measured_on TEXT NOT NULL,
            scores TEXT NOT NULL,
            entered_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            UNIQUE (trajectory_id, instrument, moment)
        )
        """,
    )


@migrations()
def m011_research(db: Database) -> None:
    # Research: the teacher's agreement per trajectory, the coordinators an admin named, and
    # the pseudonyms the export uses instead of any name (made once, kept, so that exports
    # made at different times line up).
    _run_script(
        db,
        """
        ALTER TABLE trajectories ADD COLUMN research_agreed_at TEXT;
        CREATE TABLE research_coordinators (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            granted_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            granted_at TEXT NOT NULL
        );
        CREATE TABLE research_pseudonyms (
            kind TEXT NOT NULL CHECK (kind IN ('trajectory', 'person')),
            local_id INTEGER NOT NULL,
            pseudonym TEXT NOT NULL UNIQUE,
            PRIMARY KEY (kind, local_id)
        )
        """,
    )


@migrations()
def m012_watch_together(db: Database) -> None:
    # Watch-together sessions on a lesson: who started it, whom she invited, and per person
    # when she first joined, last left and how long she was present (the sessions' state
    # itself lives in memory: a restart ends them).
    _run_script(
        db,
        """
        CREATE TABLE watch_sessions (
            id TEXT PRIMARY KEY,
            recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            host_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            ended_at TEXT,
            end_reason TEXT
        );
        CREATE INDEX watch_sessions_recording ON watch_sessions(recording_id);
        CREATE TABLE watch_participants (
            session_id TEXT NOT NULL REFERENCES watch_sessions(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            invited_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            invited_at TEXT NOT NULL,
            removed_at TEXT,
            first_joined_at TEXT,
            last_left_at TEXT,
            present_s REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (session_id, user_id)
        );
        CREATE INDEX watch_participants_user ON watch_participants(user_id)
        """,
    )


@migrations()
def m013_coding(db: Database) -> None:
    # Interaction coding: scheme versions (the school's from [coding], a coach's from the web
    # app; a version with codings never changes), one coding per coder, lesson and scheme
    # version (private until shared), its events (a point has no end_s; an open state has none
    # yet), and the rows each change replaced, which its undo puts back (an event's id is never
    # used again, so an undo cannot collide with another coder's new event).
    _run_script(
        db,
        """
        CREATE TABLE coding_schemes (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            version INTEGER NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('config', 'coach')),
            definition TEXT NOT NULL,
            created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            UNIQUE (key, version)
        );
        CREATE TABLE codings (
            id INTEGER PRIMARY KEY,
            recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            coder_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            scheme_id INTEGER NOT NULL REFERENCES coding_schemes(id),
            shared INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1)),
            source TEXT NOT NULL CHECK (source IN ('keyboard', 'boris', 'elan')),
            created_at TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            UNIQUE (recording_id, coder_id, scheme_id)
        );
        CREATE INDEX codings_scheme ON codings(scheme_id);
        CREATE TABLE coding_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            coding_id INTEGER NOT NULL REFERENCES codings(id) ON DELETE CASCADE,
            behaviour TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('point', 'state')),
            start_s REAL NOT NULL,
            end_s REAL,
            modifiers TEXT NOT NULL DEFAULT '{}',
            CHECK (kind = 'state' OR end_s IS NULL),
            CHECK (end_s IS NULL OR end_s > start_s)
        );
        CREATE INDEX coding_events_coding ON coding_events(coding_id, start_s);
        CREATE TABLE coding_undo (
            id INTEGER PRIMARY KEY,
            coding_id INTEGER NOT NULL REFERENCES codings(id) ON DELETE CASCADE,
            before TEXT NOT NULL
        );
        CREATE INDEX coding_undo_coding ON coding_undo(coding_id, id)
        """,
    )


@migrations()
def m014_oidc(db: Database) -> None:
    # Signing in with the school's accounts: which provider subject is which account (linked
    # once: one account per subject, one subject per provider and account), the authorizations
    # under way (state kept as a hash, consumed once), and per session how it was opened and
    # its hard end (a provider's session_hours).
    _run_script(
        db,
        """
        CREATE TABLE oidc_identities (
            provider TEXT NOT NULL,
            subject TEXT NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            linked_at TEXT NOT NULL,
            last_sign_in_at TEXT,
            PRIMARY KEY (provider, subject),
            UNIQUE (provider, user_id)
        );
        CREATE TABLE oidc_pending (
            state_hash TEXT PRIMARY KEY,
            browser_hash TEXT NOT NULL,
            provider TEXT NOT NULL,
            nonce TEXT NOT NULL,
            code_verifier TEXT NOT NULL,
            next_path TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        ALTER TABLE sessions ADD COLUMN expires_at TEXT;
        ALTER TABLE sessions ADD COLUMN via TEXT
        """,
    )


@migrations()
def m015_media_store(db: Database) -> None:
    """Where each lesson's media lives (the data directory or the bucket), and the bucket
    deletions still to be confirmed (a deleted lesson's objects, retried until gone)."""
    _run_script(
        db,
        """
        ALTER TABLE recordings ADD COLUMN media_store TEXT NOT NULL DEFAULT 'local';
        CREATE TABLE store_deletions (
            recording_id TEXT PRIMARY KEY,
            queued_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )
        """,
    )


@migrations()
def m016_watch_conversations(db: Database) -> None:
    """A conversation step written down from a watch-together session: one step per session
    (so a session is not recorded twice), with the figures the timeline shows ("watched
    together: N people, M minutes") and who was present but left out of the step (JSON, for
    its author). The step keeps them when the session goes with its lesson; deleting the step
    frees the session to be recorded again."""
    _run_script(
        db,
        """
        CREATE TABLE watch_conversations (
            step_id INTEGER PRIMARY KEY REFERENCES trajectory_steps(id) ON DELETE CASCADE,
            session_id TEXT UNIQUE REFERENCES watch_sessions(id) ON DELETE SET NULL,
            people INTEGER NOT NULL,
            minutes INTEGER NOT NULL,
            left_out TEXT NOT NULL DEFAULT '[]',
            recorded_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            recorded_at TEXT NOT NULL
        )
        """,
    )


def _run_script(db: Database, script: str) -> None:
    # executescript() would COMMIT the migration's transaction; run statement by statement.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


Params = Sequence[Any] | dict[str, Any]


def query_rows(db: Database, sql: str, params: Params = ()) -> list[dict[str, Any]]:
    """The rows of ``sql`` as dicts (column name -> value).

    Plain SQL on the request path: sqlite_utils' ``table().rows_where()`` first asks the schema
    whether the name is a view and whether the table exists, tripling the cost of a lookup.
    """
    cursor = db.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]


def query_row(db: Database, sql: str, params: Params = ()) -> dict[str, Any] | None:
    """The first row of ``sql`` as a dict, or None."""
    cursor = db.execute(sql, params)
    values = cursor.fetchone()
    if values is None:
        return None
    return dict(zip([c[0] for c in cursor.description], values, strict=True))


def open_database(path: Path | str) -> Database:
    """Open (creating if needed) and migrate the database at ``path``."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db = Database(conn)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    migrations.apply(db)
    return db
