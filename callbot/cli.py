"""The `callbot` command: run the server, manage models, the database and the street base, check a configuration."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from callbot.config import ConfigError, Settings, load_settings
from callbot.logs import configure as configure_logs

if TYPE_CHECKING:
    from signalements import Store


def main(argv: list[str] | None = None) -> int:
    # --config and --log-level are accepted before or after the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML overriding the defaults")
    common.add_argument("--log-level", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="callbot", description="Voice callbot for signalements.", parents=[common])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the server", parents=[common])
    commands.add_parser("check-config", help="validate the configuration and print it", parents=[common])
    commands.add_parser(
        "drain", help="tell the running server to take no new call and stop once its calls end", parents=[common]
    )
    models = commands.add_parser("models", help="production models").add_subparsers(dest="action", required=True)
    pull = models.add_parser("pull", help="download and verify the French models")
    pull.add_argument("names", nargs="*", help="models to pull (default: all)")
    pull.add_argument("--dest", type=Path, default=Path("models"))
    install = models.add_parser("install", help="install a model from a local archive or folder")
    install.add_argument("kind", choices=["asr", "tts"])
    install.add_argument("source", type=Path)
    install.add_argument("--dest", type=Path, default=Path("models"))
    database = commands.add_parser("db", help="database", parents=[common]).add_subparsers(dest="action", required=True)
    database.add_parser("upgrade", help="apply migrations")
    database.add_parser("purge", help="apply the retention limits now")
    places = commands.add_parser("places", help="the street base", parents=[common])
    place_actions = places.add_subparsers(dest="action", required=True)
    place_import = place_actions.add_parser("import", help="import a Base Adresse Nationale CSV (adresses-13.csv.gz)")
    place_import.add_argument("file", type=Path, help="the BAN addresses CSV, plain or .gz")
    users = commands.add_parser("users", help="console accounts", parents=[common])
    user_actions = users.add_subparsers(dest="action", required=True)
    user_add = user_actions.add_parser("add", help="create an account (the password is asked, never an argument)")
    user_add.add_argument("name")
    user_add.add_argument("--role", required=True, choices=["superviseur", "agent", "admin"])
    user_actions.add_parser("list", help="list the accounts")
    for action, text in (
        ("passwd", "set a new password (ends the account's sessions, lifts a lockout)"),
        ("disable", "stop an account from logging in (ends its sessions)"),
        ("enable", "let a disabled account log in again"),
        ("unlock", "lift a lockout after failed logins"),
    ):
        user_actions.add_parser(action, help=text).add_argument("name")
    apikeys = commands.add_parser("apikeys", help="integrators' keys for /api/ and /open311/", parents=[common])
    key_actions = apikeys.add_subparsers(dest="action", required=True)
    key_actions.add_parser("add", help="make an integrator's key (printed once, never stored)").add_argument("name")
    key_actions.add_parser("list", help="list the integrators and their keys' state (never the keys)")
    key_actions.add_parser("revoke", help="refuse an integrator's key from now on").add_argument("name")
    webhooks = commands.add_parser("webhooks", help="integrators' webhook subscriptions", parents=[common])
    webhook_actions = webhooks.add_subparsers(dest="action", required=True)
    webhook_add = webhook_actions.add_parser("add", help="subscribe a URL (its signing secret is shown once)")
    webhook_add.add_argument("url")
    webhook_add.add_argument("--events", required=True, help="comma-separated, e.g. report.validated,call.handoff")
    webhook_actions.add_parser("list", help="list the subscriptions")
    webhook_actions.add_parser(
        "disable", help="stop a subscription (its undelivered messages are dropped)"
    ).add_argument("id", type=int)
    webhook_log = webhook_actions.add_parser("deliveries", help="the delivery log, newest first")
    webhook_log.add_argument("--dead", action="store_true", help="only the dead messages (all attempts failed)")
    webhook_log.add_argument("--subscription", type=int, help="only this subscription's")
    webhook_log.add_argument("--limit", type=int, default=50)
    webhook_actions.add_parser("retry", help="send a dead message again now").add_argument("delivery_id", type=int)
    args = parser.parse_args(argv)
    config_file: Path | None = getattr(args, "config", None)
    log_level: str = getattr(args, "log_level", "INFO")

    configure_logs(log_level, "text")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration plugin otherwise
    # aiohttp answers a request its parser rejects with a 400 itself, but logs a traceback for each: anyone
    # could fill the log with them. Our own errors go through callbot.web.errors, logged once with a request id.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    try:
        settings = load_settings(config_file)
    except ConfigError as error:
        print(f"callbot: {error}", file=sys.stderr)
        return 2
    configure_logs(log_level, settings.logs.format)
    if args.command == "run":
        return _run(settings)
    if args.command == "drain":
        return _drain(settings)
    if args.command == "check-config":
        print(settings.model_dump_json(indent=2, exclude={"api": {"token"}}))
        return 0
    if args.command == "models":
        return _models(args)
    if args.command == "places":
        return _places(args, settings)
    if args.command == "users":
        return _users(args, settings)
    if args.command == "apikeys":
        return _apikeys(args, settings)
    if args.command == "webhooks":
        return _webhooks(args, settings)
    return _database(args, settings)


def _run(settings: Settings) -> int:
    from callbot.server import serve

    try:
        asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    except Exception as error:  # a start-up failure: say what, not a traceback
        logging.getLogger("callbot").exception("the callbot stopped: %s", error)
        return 1
    return 0


def _drain(settings: Settings) -> int:
    """SIGUSR1 to the server whose pid file this configuration names."""
    import os
    import signal

    from callbot.server import pid_file_of

    pid_file = pid_file_of(settings)
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGUSR1)
    except (OSError, ValueError) as error:
        print(f"callbot drain: no running server found through {pid_file}: {error}", file=sys.stderr)
        return 1
    print(f"callbot drain: server {pid} takes no new call and stops once its calls end")
    return 0


def _models(args: argparse.Namespace) -> int:
    from callbot import modelstore

    try:
        if args.action == "pull":
            for path in modelstore.pull(args.names or None, args.dest):
                print(path)
        else:
            print(modelstore.install_local(args.source, args.kind, args.dest))
    except modelstore.ModelError as error:
        print(f"callbot models: {error}", file=sys.stderr)
        return 1
    return 0


def _database(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from callbot.config import resolve_path
    from callbot.recording import purge_recordings

    with migrated_store(settings) as store:  # `db upgrade`: the migration is all there is to do
        if args.action == "purge":
            retention = settings.retention
            now = datetime.now(UTC)
            print(store.purge_expired(now, retention.transcript_days, retention.report_days, retention.audit_days))
            recording = settings.recording
            deleted = purge_recordings(resolve_path(recording.directory), recording.retention_days, now)
            print(f"recordings deleted: {deleted}")
    return 0


@contextmanager
def migrated_store(settings: Settings) -> Iterator[Store]:
    """The configured store, its schema brought up to date, closed on the way out (the commands' one way in)."""
    from callbot.config import resolve_path
    from callbot.server import absolute_sqlite_url, load_pseudonym_key
    from signalements import Store

    store = Store(
        absolute_sqlite_url(settings.database.url),
        load_pseudonym_key(resolve_path(settings.database.pseudonym_key_file)),
    )
    try:
        store.migrate()
        yield store
    finally:
        store.close()


def _ask_password() -> str:
    """Typed twice without echo: a password never appears in the shell history, the process list or a log."""
    import getpass

    first = getpass.getpass("Mot de passe : ")
    if getpass.getpass("Mot de passe (encore) : ") != first:
        raise ValueError("the two passwords differ")
    return first


def _users(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from signalements import StoreError
    from signalements.accounts import Accounts

    try:
        with migrated_store(settings) as store:
            accounts = Accounts(store)
            if args.action == "add":
                account = accounts.add(args.name, args.role, _ask_password(), now=datetime.now(UTC))
                print(f"account {account.name} ({account.role}) created")
            elif args.action == "list":
                for account in accounts.list():
                    state = "disabled" if account.disabled else "active"
                    print(f"{account.name}\t{account.role}\t{state}\tlast login {account.last_login_at or '-'}")
            elif args.action == "passwd":
                accounts.set_password(args.name, _ask_password())
                print(f"password of {args.name} changed")
            elif args.action in ("disable", "enable"):
                accounts.set_disabled(args.name, args.action == "disable")
                print(f"account {args.name} {args.action}d")
            else:
                accounts.unlock(args.name)
                print(f"account {args.name} unlocked")
    except (StoreError, ValueError, OSError, EOFError) as error:
        print(f"callbot users: {error}", file=sys.stderr)
        return 1
    return 0


def _webhooks(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from signalements import StoreError
    from signalements.webhooks import Webhooks

    try:
        with migrated_store(settings) as store:
            webhooks = Webhooks(store)
            now = datetime.now(UTC)
            if args.action == "add":
                created = webhooks.add(args.url, args.events.split(","), now=now)
                print(f"subscription {created.subscription.id}: {', '.join(created.subscription.events)}")
                print(f"secret (shown once, keep it to verify signatures): {created.secret}")
            elif args.action == "list":
                for sub in webhooks.subscriptions():
                    state = "active" if sub.active else f"disabled {sub.disabled_at:%Y-%m-%d %H:%M}"
                    counts = f"pending {sub.pending}, delivered {sub.delivered}, dead {sub.dead}"
                    print(f"{sub.id}\t{sub.shown_url}\t{','.join(sub.events)}\t{state}\t{counts}")
            elif args.action == "disable":
                webhooks.disable(args.id, now=now)
                print(f"subscription {args.id} disabled")
            elif args.action == "deliveries":
                if not 1 <= args.limit <= 1000:
                    raise ValueError("--limit must be between 1 and 1000")
                status = "dead" if args.dead else None
                for d in webhooks.deliveries(subscription_id=args.subscription, status=status, limit=args.limit):
                    when = d.delivered_at if d.status == "delivered" else d.last_attempt_at
                    error = d.last_error or "-"
                    print(
                        f"{d.id}\t{d.message_id}\t{d.event_type}\tsubscription {d.subscription_id}\t{d.status}\t"
                        f"attempts {d.attempts}\t{when or '-'}\t{error}"
                    )
            else:
                retried = webhooks.retry(args.delivery_id, now=now)
                print(f"delivery {retried.id} ({retried.message_id}) queued: the running callbot sends it now")
    except (StoreError, ValueError, OSError) as error:
        print(f"callbot webhooks: {error}", file=sys.stderr)
        return 1
    return 0


def _apikeys(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from signalements import StoreError
    from signalements.api_keys import ApiKeys

    try:
        with migrated_store(settings) as store:
            keys = ApiKeys(store)
            if args.action == "add":
                _, key = keys.add(args.name, now=datetime.now(UTC))
                print(f"key of {args.name} (shown once: hand it over now, it is not stored):", file=sys.stderr)
                print(key)
            elif args.action == "list":
                for view in keys.list():
                    state = "active" if view.active else f"revoked {view.revoked_at:%Y-%m-%d %H:%M}"
                    used = f"{view.last_used_at:%Y-%m-%d %H:%M}" if view.last_used_at else "-"
                    print(f"{view.name}\t{state}\tcreated {view.created_at:%Y-%m-%d %H:%M}\tlast used {used}")
            else:
                keys.revoke(args.name, now=datetime.now(UTC))
                print(f"key of {args.name} revoked")
    except (StoreError, ValueError, OSError) as error:
        print(f"callbot apikeys: {error}", file=sys.stderr)
        return 1
    return 0


def _places(args: argparse.Namespace, settings: Settings) -> int:
    from signalements import StoreError
    from signalements.streets import BanFormatError, check_ban_csv, import_ban_csv

    path: Path = args.file
    try:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
        check_ban_csv(path)  # before the database is opened: a wrong file changes nothing
        with migrated_store(settings) as store:
            summary = import_ban_csv(path, store)
    except (BanFormatError, OSError, StoreError, ValueError) as error:
        print(f"callbot places: {error}", file=sys.stderr)
        return 1
    for problem in summary.problems:
        print(f"callbot places: {path}: {problem}", file=sys.stderr)
    print(summary)
    return 0
