"""Integrators' API keys: made, checked, revoked, on SQLite and PostgreSQL; the command; /api/ through the real
access control (the configured token still opens it, an integrator's key too, anything else is refused and logged
without the key)."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from signalements import InvalidRecord, NotFound, ReportDraft, Store
from signalements.api import add_routes as add_api_routes
from signalements.api_keys import API_KEYS, ApiKeys, looks_like_key
from signalements.models import ApiKey
from tests.signalements.conftest import T0

REPO = Path(__file__).resolve().parents[2]
TOKEN = "the-configured-token-0123456789"


def test_a_key_is_shown_once_and_only_its_hash_is_kept(store: Store) -> None:
    keys = ApiKeys(store)
    view, key = keys.add("gmao-voirie", now=T0)

    assert key.startswith("cbk_") and len(key) == 47 and looks_like_key(key)
    assert view.name == "gmao-voirie" and view.active and view.created_at == T0 and view.last_used_at is None
    with store.reading() as session:
        row = session.scalars(select(ApiKey)).one()
        stored = [str(getattr(row, column.key)) for column in ApiKey.__table__.columns]
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert not any(key in value or key[4:] in value for value in stored)
    _, other = keys.add("sig-eau", now=T0)
    assert other != key
    assert [v.name for v in keys.list()] == ["gmao-voirie", "sig-eau"]


def test_check_names_the_integrator_of_an_active_key_only(store: Store) -> None:
    keys = ApiKeys(store)
    _, key = keys.add("gmao-voirie", now=T0)

    assert keys.check(key, now=T0) == "gmao-voirie"
    assert keys.check(key[:-1] + ("A" if key[-1] != "A" else "B"), now=T0) is None  # same shape, unknown
    for malformed in ("", "cbk_", key + "x", key.upper(), " " + key, "Bearer " + key, "cbk_caf\udce9" + key[9:]):
        assert keys.check(malformed, now=T0) is None

    keys.revoke("gmao-voirie", now=T0 + timedelta(hours=1))
    assert keys.check(key, now=T0 + timedelta(hours=2)) is None
    found = keys.identify(key, now=T0 + timedelta(hours=2))
    assert found.integrator == "gmao-voirie" and not found.valid
    assert "revoked" in found.describe() and key not in found.describe()
    assert keys.identify("cbk_" + "x" * 43).describe() == "unknown key"


def test_last_use_is_written_at_most_once_a_minute(store: Store) -> None:
    keys = ApiKeys(store)
    _, key = keys.add("gmao-voirie", now=T0)

    def last_used() -> object:
        return next(v for v in keys.list() if v.name == "gmao-voirie").last_used_at

    keys.check(key, now=T0 + timedelta(seconds=10))
    assert last_used() == T0 + timedelta(seconds=10)
    keys.check(key, now=T0 + timedelta(seconds=50))
    assert last_used() == T0 + timedelta(seconds=10)
    keys.check(key, now=T0 + timedelta(seconds=71))
    assert last_used() == T0 + timedelta(seconds=71)


def test_names_revocation_and_a_new_key_for_a_revoked_name(store: Store) -> None:
    keys = ApiKeys(store)
    for bad in ("", "a", "GMAO", "gmao voirie", "-gmao", "x" * 65, "gmao\n"):
        with pytest.raises(InvalidRecord, match="integrator's name"):
            keys.add(bad, now=T0)
    _, old = keys.add("gmao-voirie", now=T0)
    with pytest.raises(InvalidRecord, match="already has a key"):
        keys.add("gmao-voirie", now=T0)
    with pytest.raises(NotFound):
        keys.revoke("nobody", now=T0)
    keys.revoke("gmao-voirie", now=T0)
    with pytest.raises(InvalidRecord, match="already revoked"):
        keys.revoke("gmao-voirie", now=T0)

    view, new = keys.add("gmao-voirie", now=T0 + timedelta(days=1))
    assert view.active and new != old
    assert keys.check(new, now=T0 + timedelta(days=1)) == "gmao-voirie"
    assert keys.check(old, now=T0 + timedelta(days=1)) is None


# -- the command ---------------------------------------------------------------------------------------------------


def apikeys(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callbot", "apikeys", *args],
        cwd=REPO,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "CALLBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'callbot.db'}",
            "CALLBOT_DATABASE_PSEUDONYM_KEY_FILE": str(tmp_path / "key"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_adds_lists_and_revokes(tmp_path: Path) -> None:
    added = apikeys(tmp_path, "add", "gmao-voirie")
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert looks_like_key(key) and "shown once" in added.stderr

    listed = apikeys(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("gmao-voirie\tactive\tcreated ") and key not in listed.stdout

    again = apikeys(tmp_path, "add", "gmao-voirie")
    assert again.returncode == 1 and "already has a key" in again.stderr

    revoked = apikeys(tmp_path, "revoke", "gmao-voirie")
    assert revoked.returncode == 0 and revoked.stdout == "key of gmao-voirie revoked\n"
    assert "\trevoked " in apikeys(tmp_path, "list").stdout
    unknown = apikeys(tmp_path, "revoke", "nobody")
    assert unknown.returncode == 1 and "no API key for 'nobody'" in unknown.stderr


# -- /api/ through the access control --------------------------------------------------------------------------------


@pytest.fixture
async def api(store: Store) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    store.open_call("call-a", "sip", "+33600000001", T0)
    draft = ReportDraft("proprete", "place Castellane", "des gravats", False, True, "0611223344", commune="Marseille")
    store.save_report("call-a", draft, created_at=T0)

    def routes(app: web.Application) -> None:  # as callbot.server wires them
        add_api_routes(app, store)
        app[API_KEYS] = ApiKeys(store)

    client = TestClient(TestServer(create_app(Readiness(), CallMetrics(), TOKEN, routes), host="127.0.0.1", port=0))
    await client.start_server()
    yield client
    await client.close()


async def test_the_api_takes_the_token_and_integrator_keys(
    api: TestClient[web.Request, web.Application], store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    keys = ApiKeys(store)
    _, key = keys.add("gmao-voirie", now=T0)
    _, revoked = keys.add("ancien", now=T0)
    keys.revoke("ancien", now=T0)

    for credential in (TOKEN, key):
        response = await api.get("/api/reports", headers={"Authorization": f"Bearer {credential}"})
        assert response.status == 200
        assert (await response.json())["total"] == 1

    caplog.set_level(logging.WARNING, logger="callbot.console.access")
    unknown = "cbk_" + "Z" * 43
    for credential, logged in ((revoked, "key of integrator ancien (revoked)"), (unknown, "unknown key")):
        caplog.clear()
        response = await api.get("/api/reports", headers={"Authorization": f"Bearer {credential}"})
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "missing or wrong bearer token" in await response.text()
        assert logged in caplog.text and "GET /api/reports" in caplog.text
        assert credential not in caplog.text and credential[4:20] not in caplog.text
    assert (await api.get("/api/reports")).status == 401
    # A key is no api_key parameter on the JSON API (only Open311 takes one).
    assert (await api.get("/api/reports", params={"api_key": key})).status == 401
