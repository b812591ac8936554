"""The ``lessoncam-server`` command line: config checks, accounts, enrolment codes, first run."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lessoncam_server import cli
from lessoncam_server.access import accounts
from lessoncam_server.access.sessions import SessionPolicy, SessionStore
from lessoncam_server.infra.db import open_database


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err + str(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_config_reports_the_key_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text(f'[storage]\ndata_dir = "{tmp_path}"\n')
    assert run(capsys, "check-config", "--config", str(good))[0] == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[retention]\ndayz = 30\n")
    code, _out, err = run(capsys, "check-config", "--config", str(bad))
    assert code == 2 and "[retention] dayz: unknown key; did you mean 'days'?" in err


def test_user_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    code, out, _ = run(capsys, "user", "add", "j.devries", "--role", "coach", "--data-dir", data)
    assert code == 0 and "created coach 'j.devries' with password" in out
    code, out, _ = run(capsys, "user", "list", "--data-dir", data)
    assert "j.devries" in out and "coach" in out and "active" in out
    assert run(capsys, "user", "disable", "j.devries", "--data-dir", data)[0] == 0
    assert "disabled" in run(capsys, "user", "list", "--data-dir", data)[1]
    code, _, err = run(capsys, "user", "disable", "nobody", "--data-dir", data)
    assert code != 0 and "no account named 'nobody'" in err
    code, _, err = run(capsys, "user", "add", "j.devries", "--data-dir", data)
    assert code != 0 and "taken" in err


def test_first_run_creates_an_admin_with_a_private_password_file(tmp_path: Path) -> None:
    config = cli.load_config(None, {"LESSONCAM_STORAGE__DATA_DIR": str(tmp_path)})
    path = cli.bootstrap_admin(config)
    assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    db = open_database(tmp_path / "lessoncam.db")
    assert accounts.authenticate(db, "admin", path.read_text().strip()) is not None
    db.close()
    assert cli.bootstrap_admin(config) is None  # only once


def test_enrolment_code_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    config = cli.load_config(None, {"LESSONCAM_STORAGE__DATA_DIR": data})
    cli.bootstrap_admin(config)
    code, out, _ = run(capsys, "enrolment-code", "--unit-name", "Group 5", "--data-dir", data)
    assert code == 0 and "enrolment code for 'Group 5'" in out


def test_account_commands_follow_the_admin_pages_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Disabling and resetting on the command line end the account's sessions and are
    audited, as from the admin pages (one implementation: access/administration.py)."""
    data = tmp_path / "data"
    assert run(capsys, "user", "add", "j.devries", "--data-dir", str(data))[0] == 0
    db = open_database(data / "lessoncam.db")
    user = accounts.find_user(db, "j.devries")
    assert user is not None
    store = SessionStore(db, SessionPolicy(timedelta(hours=1), timedelta(hours=8)))
    store.create(user["id"], None, datetime.now(UTC))
    assert run(capsys, "user", "disable", "j.devries", "--data-dir", str(data))[0] == 0
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    assert run(capsys, "user", "enable", "j.devries", "--data-dir", str(data))[0] == 0
    store.create(user["id"], None, datetime.now(UTC))
    code, out, _ = run(capsys, "user", "reset-password", "j.devries", "--data-dir", str(data))
    assert code == 0 and "new password for j.devries: " in out
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    assert accounts.authenticate(db, "j.devries", out.rsplit(": ", 1)[1].strip()) is not None
    actions = [r[0] for r in db.execute("SELECT action FROM audit ORDER BY id")]
    assert actions == ["user_create", "user_update", "user_update", "password_reset"]
    db.close()
