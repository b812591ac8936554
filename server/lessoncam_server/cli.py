"""``lessoncam-server``: run the server, check its config, manage accounts, enrol units, demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from lessoncam_common.config_errors import ConfigError

from . import __version__
from .access import accounts, administration
from .access.oidc import check as oidc_check
from .access.oidc.linking import link_account
from .config import ServerConfig, load_config
from .infra.db import open_database
from .infra.errors import DomainError
from .infra.paths import DataPaths
from .infra.timeutil import to_iso, utc_now
from .middleware import ACCESS_LOG
from .services import Services
from .units import fleet

log = logging.getLogger("lessoncam_server")
DEFAULT_CONFIG = Path("/etc/lessoncam/server.toml")


def _config(args: argparse.Namespace) -> ServerConfig:
    environ = dict(os.environ)
    if getattr(args, "data_dir", None):
        environ["LESSONCAM_STORAGE__DATA_DIR"] = str(Path(args.data_dir).resolve())
    if getattr(args, "port", None):
        environ["LESSONCAM_HTTP__PORT"] = str(args.port)
    if getattr(args, "host", None):
        environ["LESSONCAM_HTTP__HOST"] = f'"{args.host}"'
    path = args.config or environ.get("LESSONCAM_CONFIG")
    if path is None and DEFAULT_CONFIG.exists():
        path = str(DEFAULT_CONFIG)
    return load_config(Path(path) if path else None, environ)


def _database(config: ServerConfig):  # type: ignore[no-untyped-def]
    paths = DataPaths(config.storage.data_dir)
    paths.create()
    return open_database(paths.database)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _config(args)
    # The [[oidc]] entries: secrets readable, and (asked) the providers' discovery documents.
    lines = [line for provider in config.oidc for line in oidc_check.describe(provider)]
    ok = not any(line.startswith("error:") for line in lines)
    if ok and args.fetch_discovery:
        found, ok = asyncio.run(oidc_check.fetch(config.oidc))
        lines += found
    for line in lines:
        print(line, file=sys.stdout if not line.startswith("error:") else sys.stderr)
    if not ok:
        return 2
    print(
        f"config OK; data directory {config.storage.data_dir}, "
        f"listening on {config.http.host}:{config.http.port}"
    )
    return 0


def bootstrap_admin(config: ServerConfig) -> Path | None:
    """On first run, create 'admin' with a random password written to a 0600 file."""
    db = _database(config)
    try:
        if accounts.has_admin(db):
            return None
        password = accounts.generate_password()
        accounts.create_user(db, "admin", password, "admin", utc_now(), "Administrator")
        target = config.storage.data_dir / "initial-admin-password"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        return target
    finally:
        db.close()


def _serve(
    config: ServerConfig,
    banner: str | None = None,
    companion: list[str] | None = None,
) -> int:
    """Run the server; ``companion`` is a command started once it listens (the demo's unit)."""
    from .app import init_app  # heavy imports (PyAV, OpenCV) only when serving

    created = bootstrap_admin(config)
    if created:
        log.warning("first run: created account 'admin'; its password is in %s", created)
    app = init_app(config)
    if companion:
        app.cleanup_ctx.append(_companion_ctx(companion))
    url = f"http://{config.http.host}:{config.http.port}/"

    def announce(_text: str) -> None:
        print(
            banner or "", f"lessoncam server {__version__} listening on {url}", sep="", flush=True
        )

    try:
        web.run_app(
            app,
            host=config.http.host,
            port=config.http.port,
            print=announce,
            access_log=logging.getLogger(ACCESS_LOG),
        )
    except ConfigError as exc:  # found at start-up, against the database (a reflection form)
        print(exc.report(), file=sys.stderr)
        return 2
    return 0


def _companion_ctx(command: list[str]):  # type: ignore[no-untyped-def]
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        process = await asyncio.create_subprocess_exec(*command)
        yield
        if process.returncode is None:
            process.terminate()
            await process.wait()

    return ctx


def cmd_serve(args: argparse.Namespace) -> int:
    return _serve(_config(args))


def cmd_demo(args: argparse.Namespace) -> int:
    """Prepare a demo data directory with an admin and a teacher, print their passwords, serve."""
    config = _config(args)
    db = _database(config)
    lines = ["", "lessoncam demo accounts (new passwords each run):"]
    try:
        for username, role, name in (
            ("demo-admin", "admin", "Demo Admin"),
            ("demo-teacher", "teacher", "Demo Teacher"),
        ):
            password = accounts.generate_password()
            row = accounts.find_user(db, username)
            if row is None:
                accounts.create_user(db, username, password, role, utc_now(), name)  # type: ignore[arg-type]
            else:
                accounts.set_password(db, row["id"], password, utc_now())
            lines.append(f"  {role:8}  username: {username:14} password: {password}")
    finally:
        db.close()
    lines.append(f"  data directory: {config.storage.data_dir}")
    companion = _demo_unit(config)
    if companion:
        lines.append("  a simulated classroom unit records a 45 s lesson for demo-teacher and")
        lines.append("  uploads it; see GET /api/v1/lessons as demo-teacher")
    lines.append("")
    return _serve(config, banner="\n".join(lines) + "\n", companion=companion)


def _demo_unit(config: ServerConfig) -> list[str] | None:
    """The command of a simulated unit for the demo, with a fresh enrolment code if needed."""
    device = Path(sys.executable).parent / "lessoncam-device"
    if not device.exists():
        return None  # a server-only install has no unit to simulate
    state = config.storage.data_dir.parent / (config.storage.data_dir.name + "-unit")
    db = _database(config)
    try:
        admin = accounts.find_user(db, "demo-admin")
        teacher = accounts.find_user(db, "demo-teacher")
        assert admin is not None and teacher is not None
        code, _ = fleet.new_enrolment_code(
            db, "Demo unit", admin["id"], utc_now(), timedelta(minutes=15), teacher["id"]
        )
    finally:
        db.close()
    url = f"http://{config.http.host}:{config.http.port}"
    return [
        str(device),
        "--state-dir",
        str(state),
        "simulate",
        "--server",
        url,
        "--code",
        code,
        "--seconds",
        "45",
    ]


def cmd_user(args: argparse.Namespace) -> int:
    config = _config(args)
    db = _database(config)
    # The same rules and audit entries as the admin pages, with no actor: ICT at the server.
    services = Services.build(config, db, utc_now)
    try:
        if args.action == "list":
            for user in accounts.list_users(db):
                state = "disabled" if user["disabled"] else "active"
                print(
                    f"{user['id']:4}  {user['username']:24} {user['role']:8} {state:8} "
                    f"{user['display_name']}"
                )
            return 0
        if not args.username:
            raise SystemExit(f"user {args.action}: give the username")
        if args.action == "add":
            _, generated = administration.create_account(
                services,
                None,
                args.username,
                args.role,
                password=_password(args),
                display_name=args.display_name,
                address=None,
            )
            print(
                f"created {args.role} {args.username!r}"
                + (f" with password {generated}" if generated else "")
            )
            return 0
        row = accounts.find_user(db, args.username)
        if row is None:
            raise SystemExit(
                f"no account named {args.username!r} (see: lessoncam-server user list)"
            )
        if args.action in ("disable", "enable"):
            administration.update_account(
                services, None, str(row["id"]), {"disabled": args.action == "disable"}, address=None
            )
            print(f"{args.username} {args.action}d")
        elif args.action == "link":
            if not args.provider or not args.subject:
                raise SystemExit("user link: give --provider KEY and --subject SUB")
            link_account(services, None, args.username, args.provider, args.subject, address=None)
            print(f"{args.username} now signs in through {args.provider} as {args.subject}")
        elif args.action == "reset-password":
            given = _password(args)
            _, password = administration.reset_password(
                services, None, str(row["id"]), address=None, password=given
            )
            print(f"new password for {args.username}" + ("" if given else f": {password}"))
        return 0
    except DomainError as exc:
        raise SystemExit(f"error: {exc.message}") from None
    finally:
        db.close()


def _password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\n")


def cmd_enrolment_code(args: argparse.Namespace) -> int:
    config = _config(args)
    db = _database(config)
    try:
        admin = accounts.find_user(db, args.admin)
        if admin is None or admin["role"] != "admin":
            raise SystemExit(f"no admin account named {args.admin!r}")
        lifetime = timedelta(minutes=config.security.enrolment_code_minutes)
        teacher_id = None
        if args.teacher:
            teacher = accounts.find_user(db, args.teacher)
            if teacher is None or teacher["disabled"] or teacher["role"] == "admin":
                raise SystemExit(f"no active teacher or coach named {args.teacher!r}")
            teacher_id = teacher["id"]
        code, expires = fleet.new_enrolment_code(
            db, args.unit_name, admin["id"], utc_now(), lifetime, teacher_id
        )
        print(f"enrolment code for {args.unit_name!r}: {code} (valid until {to_iso(expires)})")
        return 0
    finally:
        db.close()


def cmd_storage(args: argparse.Namespace) -> int:
    from .media.store.tool import storage_command

    if args.action == "migrate" and args.to is None:
        print("storage migrate needs --to s3 or --to local", file=sys.stderr)
        return 2
    try:
        return asyncio.run(storage_command(_config(args), args.action, args.to, sys.stdout))
    except KeyboardInterrupt:
        print(
            "stopped: every lesson is whole in one store; run the same command to go on",
            file=sys.stderr,
        )
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lessoncam-server", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help=f"TOML config file (default {DEFAULT_CONFIG} if present)")
    common.add_argument("--data-dir", help="override [storage] data_dir")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser(
        "demo", parents=[common], help="demo accounts in a local data directory, then serve"
    )
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.set_defaults(func=cmd_demo)

    check = sub.add_parser(
        "check-config", parents=[common], help="validate the configuration and exit"
    )
    check.add_argument(
        "--fetch-discovery",
        action="store_true",
        help="also fetch each [[oidc]] provider's discovery document and keys",
    )
    check.set_defaults(func=cmd_check_config)

    user = sub.add_parser("user", parents=[common], help="manage accounts")
    user.add_argument(
        "action", choices=["list", "add", "disable", "enable", "reset-password", "link"]
    )
    user.add_argument("username", nargs="?")
    user.add_argument("--role", choices=list(accounts.ROLES), default="teacher")
    user.add_argument("--display-name")
    user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of generating one",
    )
    user.add_argument("--provider", help="link: the [[oidc]] key")
    user.add_argument("--subject", help="link: the person's sub (or oid) at that provider")
    user.set_defaults(func=cmd_user)

    code = sub.add_parser(
        "enrolment-code", parents=[common], help="make a single-use code to enrol a unit"
    )
    code.add_argument("--unit-name", required=True)
    code.add_argument("--admin", default="admin", help="admin account the code is issued by")
    code.add_argument("--teacher", help="username of the teacher the unit is for (optional)")
    code.set_defaults(func=cmd_enrolment_code)

    storage = sub.add_parser(
        "storage", parents=[common], help="move lesson media between disk and bucket, or check"
    )
    storage.add_argument("action", choices=["migrate", "check"])
    storage.add_argument("--to", choices=["s3", "local"], help="where migrate moves lessons")
    storage.set_defaults(func=cmd_storage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
