"""Console accounts and their logins: argon2id password hashes, lockout, server-side sessions.

    accounts = Accounts(store)
    accounts.add("m.durand", "superviseur", password)
    login = accounts.log_in("m.durand", password, now, lasting=timedelta(hours=10), idle=timedelta(minutes=30))
    user = accounts.session(login.token, now, ...)    # each request; None once expired or logged out

The browser holds a random token; the store keeps only its SHA-256, so a copy of the database opens no session.
Every wrong password counts against the account; after `max_failed` in a row it is locked for `lockout`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from signalements.checks import check_aware
from signalements.errors import InvalidRecord, LoginRefused, NotFound
from signalements.models import ROLES, Account, ConsoleSession
from signalements.store import Store

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length, but a megabyte "password" is an attack on the CPU

# argon2id at the library's defaults (RFC 9106's second recommendation: 64 MiB, 3 passes): ~50 ms per login.
_hasher = PasswordHasher()
# Verified against when the name is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class AccountView:
    id: int
    name: str
    role: str
    disabled: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Account) -> AccountView:
        return cls(row.id, row.name, row.role, row.disabled, row.locked_until, row.last_login_at, row.created_at)


@dataclass(frozen=True)
class SessionUser:
    """Who is logged in on a request: the account and the session's CSRF token."""

    account_id: int
    name: str
    role: str
    csrf_token: str


@dataclass(frozen=True)
class Login:
    token: str  # for the cookie; shown nowhere else
    user: SessionUser


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):  # match's '$' lets a final newline in
        raise InvalidRecord(
            "an account name is 2 to 64 characters: lower-case letters, digits, '.', '_' or '-' (e.g. m.durand)"
        )
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise InvalidRecord(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidRecord(f"a password has at most {MAX_PASSWORD_CHARS} characters")
    return password


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Accounts:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- administration ------------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, *, now: datetime) -> AccountView:
        if role not in ROLES:
            raise InvalidRecord(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        row = Account(
            name=check_name(name),
            role=role,
            password_hash=_hasher.hash(check_password(password)),
            created_at=check_aware("now", now),
            disabled=False,
            failed_logins=0,
        )
        with self._store.writing() as session:
            if session.scalar(select(Account.id).where(Account.name == name)) is not None:
                raise InvalidRecord(f"an account named {name!r} already exists")
            session.add(row)
            session.flush()
            return AccountView.of(row)

    def list(self) -> list[AccountView]:
        with self._store.reading() as session:
            return [AccountView.of(row) for row in session.scalars(select(Account).order_by(Account.name))]

    def get(self, name: str) -> AccountView:
        with self._store.reading() as session:
            row = session.scalar(select(Account).where(Account.name == name))
            if row is None:
                raise NotFound(f"no account {name!r}")
            return AccountView.of(row)

    def set_password(self, name: str, password: str) -> None:
        """A new password; it also ends the account's sessions and lifts a lockout."""
        hashed = _hasher.hash(check_password(password))
        with self._store.writing() as session:
            row = self._row(session, name)
            row.password_hash, row.failed_logins, row.locked_until = hashed, 0, None
            session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == row.id))

    def set_disabled(self, name: str, disabled: bool) -> None:
        """A disabled account cannot log in, and its open sessions end now."""
        with self._store.writing() as session:
            row = self._row(session, name)
            row.disabled = disabled
            if disabled:
                session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == row.id))

    def unlock(self, name: str) -> None:
        with self._store.writing() as session:
            row = self._row(session, name)
            row.failed_logins, row.locked_until = 0, None

    def count(self) -> int:
        with self._store.reading() as session:
            return session.scalar(select(func.count(Account.id))) or 0

    @staticmethod
    def _row(session: Session, name: str) -> Account:
        row = session.scalar(select(Account).where(Account.name == name))
        if row is None:
            raise NotFound(f"no account {name!r}")
        return row

    # -- logging in ----------------------------------------------------------------------------------------

    def log_in(
        self,
        name: str,
        password: str,
        now: datetime,
        *,
        lasting: timedelta,
        idle: timedelta,
        max_failed: int,
        lockout: timedelta,
    ) -> Login:
        """A new session for the right name and password; LoginRefused otherwise (locked accounts too, even
        with the right password: a lockout that a guess could lift would not slow guessing)."""
        now = check_aware("now", now)
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
            password = ""
        with self._store.writing() as session:
            # Locked: parallel guesses on PostgreSQL would otherwise overwrite each other's failure count.
            query = select(Account).where(Account.name == name).with_for_update()
            row = session.scalar(query) if isinstance(name, str) else None
            if row is None:
                _verify(_DUMMY_HASH, password)  # the same time as a wrong password
                raise LoginRefused("identifiant ou mot de passe incorrect")
            if row.locked_until is not None and row.locked_until > now:
                raise LoginRefused("compte verrouillé", locked_until=row.locked_until)
            login: Login | None = None
            if row.disabled or not _verify(row.password_hash, password):
                # Counted, and LoginRefused raised once the transaction commits: raising here would roll it back.
                row.failed_logins += 1
                if row.failed_logins >= max_failed:
                    row.locked_until, row.failed_logins = now + lockout, 0
                    log.warning("console account %d locked after %d failed logins", row.id, max_failed)
            else:
                if _hasher.check_needs_rehash(row.password_hash):
                    row.password_hash = _hasher.hash(password)
                row.failed_logins, row.locked_until, row.last_login_at = 0, None, now
                token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
                session.add(
                    ConsoleSession(
                        token_hash=_token_hash(token),
                        account_id=row.id,
                        csrf_token=csrf,
                        created_at=now,
                        last_seen_at=now,
                        expires_at=min(now + idle, now + lasting),
                    )
                )
                log.info("console account %d logged in", row.id)
                login = Login(token, SessionUser(row.id, row.name, row.role, csrf))
        if login is None:
            raise LoginRefused("identifiant ou mot de passe incorrect")
        return login

    def failed_logins_left(self, name: str, max_failed: int) -> int | None:
        with self._store.reading() as session:
            row = session.scalar(select(Account).where(Account.name == name))
            return None if row is None else max(0, max_failed - row.failed_logins)

    def session(self, token: str, now: datetime, *, lasting: timedelta, idle: timedelta) -> SessionUser | None:
        """Who holds `token`, sliding the idle limit (never past the absolute one); None if expired or unknown."""
        now = check_aware("now", now)
        with self._store.writing() as session:
            row = session.execute(
                select(ConsoleSession, Account).join(Account).where(ConsoleSession.token_hash == _token_hash(token))
            ).one_or_none()
            if row is None:
                return None
            login, account = row
            if login.expires_at <= now or account.disabled:
                session.delete(login)
                return None
            # Written at most once a minute: a page and its assets would otherwise each take the write lock.
            if now - login.last_seen_at > timedelta(minutes=1):
                login.last_seen_at = now
                login.expires_at = min(now + idle, login.created_at + lasting)
            return SessionUser(account.id, account.name, account.role, login.csrf_token)

    def log_out(self, token: str) -> None:
        with self._store.writing() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token)))

    def purge_sessions(self, now: datetime) -> int:
        with self._store.writing() as session:
            result = session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= check_aware("now", now)))
            return int(getattr(result, "rowcount", 0) or 0)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
