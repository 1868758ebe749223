"""Integrators' API keys: one per integrator, for the JSON API (/api/) and Open311 (/open311/).

    keys = ApiKeys(store)
    view, key = keys.add("gmao-voirie", now=now)   # `key` is shown once, to be handed to the integrator
    keys.check(key)                                # "gmao-voirie", or None for an unknown or revoked key
    keys.revoke("gmao-voirie", now=now)

A key is "cbk_" followed by 32 random bytes in URL-safe base64. The store keeps only its SHA-256 (a copy of the
database opens nothing), the integrator's name, when it was made, revoked and last used. `last_used_at` is written
at most once a minute per key, so that a busy integrator does not turn every read into a write. A revoked name
can be given a new key (`add` again): the old key stays refused.

Nothing here logs or returns a key, except `add`, once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import or_, select, update

from signalements.checks import check_aware
from signalements.errors import InvalidRecord, NotFound, StoreError
from signalements.models import ApiKey
from signalements.store import Store

log = logging.getLogger(__name__)

KEY_PREFIX = "cbk_"
KEY_RANDOM_BYTES = 32
# token_urlsafe(32): 43 characters of [A-Za-z0-9_-]. Anything else is no key of ours (and is not looked up).
_KEY_SHAPE = re.compile(r"cbk_[A-Za-z0-9_-]{43}")
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiKeyView:
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyView:
        return cls(row.name, row.created_at, row.revoked_at, row.last_used_at)


@dataclass(frozen=True)
class KeyCheck:
    """What a key offered on a request is: whose (also when revoked, for the log line), and whether it opens."""

    integrator: str | None  # None: no key of ours
    valid: bool

    def describe(self) -> str:
        """For a refusal's log line: never the key itself."""
        if self.integrator is None:
            return "unknown key"
        return f"key of integrator {self.integrator}" + ("" if self.valid else " (revoked)")


def check_integrator_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidRecord(
            "an integrator's name is 2 to 64 characters: lower-case letters, digits, '.', '_' or '-' (e.g. gmao-voirie)"
        )
    return name


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_key(key: str) -> bool:
    """The shape of our keys, checked before any hashing or lookup."""
    return isinstance(key, str) and _KEY_SHAPE.fullmatch(key) is not None


class ApiKeys:
    def __init__(self, store: Store, *, touch_interval: timedelta = TOUCH_INTERVAL) -> None:
        self._store = store
        self._touch_interval = touch_interval

    def add(self, name: str, *, now: datetime) -> tuple[ApiKeyView, str]:
        """A new key for `name`: returned once, never stored. A name whose key is active is refused (revoke
        it first); a revoked name gets a new key in its place."""
        check_integrator_name(name)
        now = check_aware("now", now)
        key = KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)
        with self._store.writing() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is not None and row.revoked_at is None:
                raise InvalidRecord(f"{name!r} already has a key: revoke it first (apikeys revoke {name})")
            if row is None:
                row = ApiKey(name=name)
                session.add(row)
            row.key_hash, row.created_at, row.revoked_at, row.last_used_at = key_hash(key), now, None, None
            session.flush()
            view = ApiKeyView.of(row)
        log.info("API key issued to integrator %s", name)
        return view, key

    def list(self) -> list[ApiKeyView]:
        with self._store.reading() as session:
            return [ApiKeyView.of(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.name))]

    def revoke(self, name: str, *, now: datetime) -> ApiKeyView:
        now = check_aware("now", now)
        with self._store.writing() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is None:
                raise NotFound(f"no API key for {name!r}")
            if row.revoked_at is not None:
                raise InvalidRecord(
                    f"the key of {name!r} is already revoked (since {row.revoked_at:%Y-%m-%d %H:%M} UTC)"
                )
            row.revoked_at = now
            view = ApiKeyView.of(row)
        log.info("API key of integrator %s revoked", name)
        return view

    def identify(self, key: str, *, now: datetime | None = None) -> KeyCheck:
        """Whose key this is and whether it opens; notes when it was used (at most once per interval).

        Raises StoreError when the database cannot say (the caller refuses the request: 503)."""
        if not looks_like_key(key):
            return KeyCheck(None, False)
        now = check_aware("now", now) if now is not None else datetime.now(UTC)
        digest = key_hash(key)
        with self._store.reading() as session:
            row = session.execute(
                select(ApiKey.id, ApiKey.name, ApiKey.revoked_at, ApiKey.last_used_at).where(ApiKey.key_hash == digest)
            ).one_or_none()
        if row is None:
            return KeyCheck(None, False)
        if row.revoked_at is not None:
            return KeyCheck(row.name, False)
        if row.last_used_at is None or now - row.last_used_at >= self._touch_interval:
            self._touch(row.id, row.name, now)
        return KeyCheck(row.name, True)

    def check(self, key: str, *, now: datetime | None = None) -> str | None:
        """The integrator whose active key this is, or None."""
        found = self.identify(key, now=now)
        return found.integrator if found.valid else None

    def _touch(self, key_id: int, name: str, now: datetime) -> None:
        """last_used_at = now, unless another request (or process) did it within the interval. A failure here
        does not refuse the request: the key was checked."""
        try:
            with self._store.writing() as session:
                session.execute(
                    update(ApiKey)
                    .where(ApiKey.id == key_id)
                    .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - self._touch_interval))
                    .values(last_used_at=now)
                )
        except StoreError as error:
            log.warning("could not note the use of the key of integrator %s: %s", name, error)


# The web app's ApiKeys, set by the server's route wiring; the access control reads it (absent: no key opens).
API_KEYS = web.AppKey("integrator_api_keys", ApiKeys)
# Set on a request opened by an integrator's key: the integrator's name.
INTEGRATOR = web.RequestKey("integrator", str)
