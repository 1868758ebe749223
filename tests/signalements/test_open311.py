"""Open311 GeoReport v2 through the real web app (access control with integrators' keys, error middleware) on a
real store, SQLite and PostgreSQL; then a GeoReport client library from PyPI against the running server."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from xml.etree import ElementTree

import georeport.georeport
import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from dialogue.knowledge import load_taxonomy
from signalements import ReportDraft, Store, StoreUnavailable
from signalements.api import add_routes as add_api_routes
from signalements.api_keys import API_KEYS, ApiKeys
from signalements.models import Street
from signalements.open311 import Open311
from signalements.open311 import add_routes as add_open311_routes

TOKEN = "the-configured-token-0123456789"
CALLBACK_NUMBER = "0611223344"
CALLER = "+33600000001"
BASE = "/open311/v2"
# The fields of a request in the spec's example (wiki.open311.org/GeoReport_v2, GET Service Requests), in order.
SPEC_REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
SPEC_SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
ZONE_PLUS_2 = timezone(timedelta(hours=2))
W3C_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

Client = TestClient[web.Request, web.Application]


@dataclass
class Fixture:
    client: Client
    key: str
    now: datetime
    ids: dict[str, int]  # belsunce (awaiting, street found), aubagne (validated, street not found),
    # gare (rejected, a landmark), old (awaiting, 100 days ago)
    pseudonym: str


def _draft(category: str, description: str, **place: Any) -> ReportDraft:
    return ReportDraft(
        category=category,
        place=place.pop("place"),
        description=description,
        danger=False,
        callback_consent=True,
        callback_number=CALLBACK_NUMBER,
        **place,
    )


def _street(commune: str, postcode: str, insee: str, name: str, lat: float | None, lon: float | None) -> Street:
    folded = name.lower()
    return Street(
        commune=commune,
        postcode=postcode,
        insee_code=insee,
        name=name,
        folded_name=folded,
        phonetic_key=folded,
        numbers="1 12",
        lat=lat,
        lon=lon,
    )


@pytest.fixture
async def open311(store: Store) -> AsyncIterator[Fixture]:
    now = datetime.now(UTC).replace(microsecond=0)
    store.open_call("call-a", "sip", CALLER, now - timedelta(days=101))
    with store.writing() as session:
        session.add(_street("Marseille 1er", "13001", "13201", "Cours Belsunce", 43.2987654321, 5.3771234567))
        # The same name as the Aubagne report's street, whose street was not found: its place stays unknown.
        session.add(_street("Aubagne", "13400", "13005", "rue Inconnue", 43.29, 5.57))
    ids = {
        "old": store.save_report(
            "call-a",
            _draft("proprete", "un vieux dépôt", place="place Castellane, Marseille", commune="Marseille 6e"),
            created_at=now - timedelta(days=100),
        ),
        "gare": store.save_report(
            "call-a",
            _draft(
                "proprete",
                "des sacs <b>&</b> \x07 devant la gare",
                place="gare Saint-Charles, Marseille 3e",
                landmark="gare Saint-Charles",
                commune="Marseille 3e",
            ),
            created_at=now - timedelta(days=3),
        ),
        "aubagne": store.save_report(
            "call-a",
            _draft(
                "chaussee_trottoirs",
                "un nid de poule",
                place="4 rue Inconnue, Aubagne",
                street_number="4",
                street_name="rue Inconnue",
                street_verified=False,
                commune="Aubagne",
            ),
            created_at=now - timedelta(days=2),
        ),
        "belsunce": store.save_report(
            "call-a",
            _draft(
                "eclairage_public",
                "le lampadaire est éteint",
                place="12 Cours Belsunce, Marseille 1er",
                street_number="12",
                street_name="Cours Belsunce",
                street_verified=True,
                commune="Marseille 1er",
            ),
            created_at=now - timedelta(days=1),
        ),
    }
    store.validate_report(ids["aubagne"], "m.durand", at=now - timedelta(hours=30))
    store.reject_report(ids["gare"], "m.durand", "doublon du signalement 12", at=now - timedelta(hours=50))
    keys = ApiKeys(store)
    _, key = keys.add("gmao-voirie", now=now)

    def routes(app: web.Application) -> None:  # as callbot.server wires them
        add_api_routes(app, store)
        app[API_KEYS] = keys
        add_open311_routes(app, store)

    app = create_app(Readiness(), CallMetrics(), TOKEN, routes)
    # access_log=None as callbot.server runs it: aiohttp's access log would write the query string, api_key and all.
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server(access_log=None)
    client = TestClient(server)
    await client.start_server()
    pseudonym = store.pseudonymise(CALLER)
    assert pseudonym is not None
    yield Fixture(client, key, now, ids, pseudonym)
    await client.close()


async def get_json(fx: Fixture, path: str, expect: int = 200, /, **params: str) -> Any:
    response = await fx.client.get(path, params={"api_key": fx.key, **params})
    body = await response.text()
    assert response.status == expect, body
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return await response.json()


async def get_xml(fx: Fixture, path: str, expect: int = 200, /, **params: str) -> ElementTree.Element:
    response = await fx.client.get(path, params={"api_key": fx.key, **params})
    raw = await response.read()
    assert response.status == expect, raw
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ElementTree.fromstring(raw)


def w3c(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- services ------------------------------------------------------------------------------------------------------


async def test_the_services_are_the_taxonomy(open311: Fixture) -> None:
    taxonomy = load_taxonomy()
    services = await get_json(open311, f"{BASE}/services.json")

    assert [s["service_code"] for s in services] == [c.code for c in taxonomy.categories]
    assert [s["service_name"].lower() for s in services] == [c.label.lower() for c in taxonomy.categories]
    for service in services:
        assert list(service) == SPEC_SERVICE_FIELDS
        assert service["metadata"] is False and service["type"] == "realtime"
        assert service["description"] and service["group"]
    lighting = next(s for s in services if s["service_code"] == "eclairage_public")
    assert lighting["service_name"] == "Éclairage public"
    assert "lampadaire" in lighting["keywords"].split(", ")

    root = await get_xml(open311, f"{BASE}/services.xml")
    assert root.tag == "services" and [e.tag for e in root] == ["service"] * len(services)
    for element, service in zip(root, services, strict=True):
        assert [child.tag for child in element] == SPEC_SERVICE_FIELDS
        assert element.findtext("service_code") == service["service_code"]
        assert element.findtext("service_name") == service["service_name"]
        assert element.findtext("metadata") == "false"


# -- requests ------------------------------------------------------------------------------------------------------


async def test_requests_default_to_the_last_90_days_newest_first_with_every_field(open311: Fixture) -> None:
    items = await get_json(open311, f"{BASE}/requests.json")
    ids = open311.ids

    assert [item["service_request_id"] for item in items] == [ids["belsunce"], ids["aubagne"], ids["gare"]]
    for item in items:
        assert list(item) == SPEC_REQUEST_FIELDS
        assert W3C_UTC.fullmatch(item["requested_datetime"]) and W3C_UTC.fullmatch(item["updated_datetime"])
        assert item["agency_responsible"] == "Métropole Aix-Marseille-Provence"
        assert item["media_url"] is None and item["address_id"] is None and item["expected_datetime"] is None
    belsunce = items[0]
    assert belsunce["service_code"] == "eclairage_public" and belsunce["service_name"] == "Éclairage public"
    assert belsunce["description"] == "le lampadaire est éteint"
    assert belsunce["requested_datetime"] == w3c(open311.now - timedelta(days=1))


async def test_lat_long_and_zipcode_only_when_the_street_was_found(open311: Fixture) -> None:
    belsunce, aubagne, gare = await get_json(open311, f"{BASE}/requests.json")

    assert belsunce["address"] == "12 Cours Belsunce, Marseille 1er"
    assert (belsunce["lat"], belsunce["long"], belsunce["zipcode"]) == (43.2987654, 5.3771235, "13001")
    # A street of that name exists in Aubagne, but the caller's was not found in the address base.
    assert aubagne["address"] == "4 rue Inconnue, Aubagne"
    assert (aubagne["lat"], aubagne["long"], aubagne["zipcode"]) == (None, None, None)
    assert gare["address"] == "gare Saint-Charles, Marseille 3e"
    assert (gare["lat"], gare["long"], gare["zipcode"]) == (None, None, None)


async def test_status_open_or_closed_and_the_last_decision(open311: Fixture) -> None:
    belsunce, aubagne, gare = await get_json(open311, f"{BASE}/requests.json")
    now = open311.now

    assert (belsunce["status"], aubagne["status"], gare["status"]) == ("open", "open", "closed")
    assert belsunce["status_notes"] == "En attente de validation par un agent de la Métropole."
    assert aubagne["status_notes"] == "Validé par un agent de la Métropole."
    assert gare["status_notes"] == "Rejeté par un agent de la Métropole."
    assert belsunce["updated_datetime"] == belsunce["requested_datetime"]
    assert aubagne["updated_datetime"] == w3c(now - timedelta(hours=30))
    assert gare["updated_datetime"] == w3c(now - timedelta(hours=50))
    assert "doublon" not in str(gare)  # the reviewer's note is the Métropole's, not the integrators'


async def test_each_filter(open311: Fixture) -> None:
    ids, now = open311.ids, open311.now

    async def found(**params: str) -> list[int]:
        return [item["service_request_id"] for item in await get_json(open311, f"{BASE}/requests.json", **params)]

    assert await found(status="open") == [ids["belsunce"], ids["aubagne"]]
    assert await found(status="closed") == [ids["gare"]]
    assert await found(status="open,closed") == [ids["belsunce"], ids["aubagne"], ids["gare"]]
    assert await found(status="") == [ids["belsunce"], ids["aubagne"], ids["gare"]]  # empty: as if absent
    assert await found(service_code="proprete") == [ids["gare"]]
    assert await found(service_code="proprete,eclairage_public") == [ids["belsunce"], ids["gare"]]
    assert await found(service_code="proprete", status="open") == []
    window = {"start_date": w3c(now - timedelta(days=2, hours=1)), "end_date": w3c(now - timedelta(hours=12))}
    assert await found(**window) == [ids["belsunce"], ids["aubagne"]]
    # One date alone: the 90 days that follow it, or that precede it.
    assert await found(start_date=w3c(now - timedelta(days=101))) == [ids["old"]]
    assert await found(start_date=w3c(now - timedelta(days=89))) == [ids["belsunce"], ids["aubagne"], ids["gare"]]
    assert await found(end_date=w3c(now - timedelta(days=50))) == [ids["old"]]
    # A date alone is its midnight UTC; a zone other than Z is honoured ("+" sent as is, or encoded).
    day = (now - timedelta(days=100)).date()
    assert await found(start_date=day.isoformat(), end_date=(day + timedelta(days=1)).isoformat()) == [ids["old"]]
    paris = (now - timedelta(days=1, seconds=1)).astimezone(ZONE_PLUS_2).isoformat()
    assert await found(start_date=paris) == [ids["belsunce"]]
    assert await found(start_date=paris.replace("+", " ")) == [ids["belsunce"]]
    # Ids override every other filter (the old report is outside the default window, the status says closed).
    assert await found(service_request_id=f"{ids['old']},{ids['belsunce']}", status="closed") == [
        ids["belsunce"],
        ids["old"],
    ]
    assert await found(service_request_id="999999") == []
    assert await found(page_size="1", page="2") == [ids["aubagne"]]
    assert await found(page_size="2", page="2") == [ids["gare"]]
    assert await found(page="9") == []
    # The spec's sample query: jurisdiction_id is accepted (one jurisdiction here).
    sample = {**window, "status": "open", "jurisdiction_id": "ampmetropole.fr"}
    root = await get_xml(open311, f"{BASE}/requests.xml", **sample)
    assert [int(r.findtext("service_request_id") or 0) for r in root] == [ids["belsunce"], ids["aubagne"]]


async def test_one_request_and_unknown_ones(open311: Fixture) -> None:
    belsunce_id = open311.ids["belsunce"]
    one = await get_json(open311, f"{BASE}/requests/{belsunce_id}.json")
    assert len(one) == 1 and one[0]["service_request_id"] == belsunce_id and list(one[0]) == SPEC_REQUEST_FIELDS
    old = await get_json(open311, f"{BASE}/requests/{open311.ids['old']}.json")
    assert old[0]["status"] == "open"  # no date window on a request asked by id

    root = await get_xml(open311, f"{BASE}/requests/{belsunce_id}.xml")
    assert root.tag == "service_requests" and [e.tag for e in root] == ["request"]
    assert root[0].findtext("lat") == "43.2987654" and root[0].findtext("zipcode") == "13001"

    for wrong in ("999999", "abc", "0", "99999999999999999999", "-1"):
        errors = await get_json(open311, f"{BASE}/requests/{wrong}.json", 404)
        assert errors[0]["code"] == 404 and "no service request" in errors[0]["description"]
    root = await get_xml(open311, f"{BASE}/requests/999999.xml", 404)
    assert root.tag == "errors" and root[0].tag == "error" and root[0].findtext("code") == "404"


async def test_xml_is_the_spec_shape_and_escapes_what_the_caller_said(open311: Fixture) -> None:
    root = await get_xml(open311, f"{BASE}/requests.xml")
    assert root.tag == "service_requests" and [e.tag for e in root] == ["request"] * 3
    for element in root:
        assert [child.tag for child in element] == SPEC_REQUEST_FIELDS
    belsunce, aubagne, gare = root
    assert gare.findtext("description") == "des sacs <b>&</b> \ufffd devant la gare"
    assert aubagne.findtext("lat") == "" and aubagne.findtext("zipcode") == ""  # present, empty
    assert belsunce.findtext("service_name") == "Éclairage public"
    assert [e.findtext("status") for e in root] == ["open", "open", "closed"]
    json_items = await get_json(open311, f"{BASE}/requests.json")
    assert json_items[2]["description"] == "des sacs <b>&</b> \x07 devant la gare"  # JSON escapes it itself


async def test_no_caller_data_anywhere(open311: Fixture) -> None:
    paths = [
        f"{BASE}/requests.json",
        f"{BASE}/requests.xml",
        *(f"{BASE}/requests/{i}.{fmt}" for i in open311.ids.values() for fmt in ("json", "xml")),
        f"{BASE}/services.json",
    ]
    for path in paths:
        response = await open311.client.get(path, params={"api_key": open311.key})
        text = await response.text()
        assert response.status == 200
        for secret in (CALLBACK_NUMBER, "06 11 22 33 44", CALLER, open311.pseudonym, "call-a", "m.durand", open311.key):
            assert secret not in text, (path, secret)


# -- refusals ------------------------------------------------------------------------------------------------------


async def test_a_key_is_needed_and_refusals_are_logged_without_it(
    open311: Fixture, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    client = open311.client
    keys = ApiKeys(store)
    _, revoked = keys.add("ancien-prestataire", now=open311.now)
    keys.revoke("ancien-prestataire", now=open311.now)
    unknown = "cbk_" + "Q" * 43
    caplog.set_level(logging.INFO)

    cases: list[tuple[dict[str, str], dict[str, str], str, str]] = [
        ({}, {}, "api_key missing", "no key"),
        ({"api_key": unknown}, {}, "Invalid api_key", "unknown key"),
        ({"api_key": "not even a key"}, {}, "Invalid api_key", "unknown key"),
        ({}, {"Authorization": f"Bearer {unknown}"}, "Invalid api_key", "unknown key"),
        ({"api_key": revoked}, {}, "api_key revoked", "key of integrator ancien-prestataire (revoked)"),
        ({}, {"Authorization": f"Bearer {TOKEN}"}, "Invalid api_key", "unknown key"),  # the token is for /api/
    ]
    for params, headers, said, logged in cases:
        for fmt in ("json", "xml"):
            caplog.clear()
            response = await client.get(f"{BASE}/requests.{fmt}", params=params, headers=headers)
            assert response.status == 403
            raw = await response.read()
            if fmt == "json":
                [error] = await response.json()
                assert error["code"] == 403 and said in error["description"]
            else:
                root = ElementTree.fromstring(raw)
                assert root.tag == "errors" and root[0].findtext("code") == "403"
                assert said in (root[0].findtext("description") or "")
            assert f"open311: refused GET {BASE}/requests.{fmt} from 127.0.0.1: {logged}" in caplog.text
            for credential in (*params.values(), *headers.values()):
                assert credential not in caplog.text and credential[-12:] not in caplog.text
    assert "service_request_id" not in (await (await client.get(f"{BASE}/requests.json")).text())

    by_header = await client.get(f"{BASE}/requests.json", headers={"Authorization": f"Bearer {open311.key}"})
    assert by_header.status == 200 and len(await by_header.json()) == 3


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"status": "pending"}, "status must be open or closed"),
        ({"status": "open,awaiting_validation"}, "status must be open or closed"),
        ({"service_code": "nids_de_poule"}, "unknown service_code"),
        ({"start_date": "yesterday"}, "start_date must be a W3C date-time"),
        ({"start_date": "2026-11-01T10:00:00"}, "with its zone"),
        ({"end_date": "2026-13-01"}, "end_date is not a valid date-time"),
        ({"end_date": "2026-11-01T25:00:00Z"}, "end_date is not a valid date-time"),
        ({"start_date": "2026-11-01T10:00:00+24:00"}, "start_date is not a valid date-time"),
        ({"start_date": "9999-12-31T23:59:59-23:59"}, "start_date is not a valid date-time"),
        ({"end_date": "0001-01-01"}, "too far in time"),
        ({"start_date": "2026-11-10T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, "end_date is before start_date"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, "at most 90 days apart"),
        ({"service_request_id": ",".join(str(i) for i in range(1, 202))}, "at most 200 ids"),
        ({"service_request_id": "12,abc"}, "numeric ids"),
        ({"service_request_id": "99999999999"}, "numeric ids"),
        ({"page": "0"}, "page must be an integer from 1"),
        ({"page_size": "1001"}, "page_size must be an integer from 1 to 1000"),
        ({"page_size": "ten"}, "page_size must be an integer"),
    ],
)
async def test_malformed_filters_are_a_400_in_the_spec_format(
    open311: Fixture, params: dict[str, str], said: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="signalements.open311")
    [error] = await get_json(open311, f"{BASE}/requests.json", 400, **params)
    assert error["code"] == 400 and said in error["description"]
    assert f"open311: 400 on GET {BASE}/requests.json (gmao-voirie): " in caplog.text
    root = await get_xml(open311, f"{BASE}/requests.xml", 400, **params)
    assert root.tag == "errors" and said in (root[0].findtext("description") or "")


async def test_other_paths_and_methods_answer_in_the_spec_format(open311: Fixture) -> None:
    client, key = open311.client, open311.key
    missing = await get_json(open311, f"{BASE}/services/proprete.json", 404)
    assert "metadata false" in missing[0]["description"]
    for path in (f"{BASE}/requests.csv", "/open311/v3/requests.json", f"{BASE}/discovery.json"):
        [error] = await get_json(open311, path, 404)
        assert error["code"] == 404
    posted = await client.post(f"{BASE}/requests.xml", params={"api_key": key}, data={"service_code": "proprete"})
    assert posted.status == 405 and posted.headers["Allow"] == "GET, HEAD"
    assert ElementTree.fromstring(await posted.read()).findtext("error/code") == "405"


# -- a GeoReport client from PyPI ----------------------------------------------------------------------------------


class _WithKey:
    """The library sends no key on reads (the spec's reads need none); this Métropole's do, so its GETs carry the
    integrator's key, as an integrator's HTTP session would."""

    def __init__(self, key: str) -> None:
        self.key = key

    def get(self, url: str, params: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        return requests.get(url, params={**(params or {}), "api_key": self.key}, timeout=10, **kwargs)


async def test_a_georeport_client_library_reads_the_running_server(
    open311: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(open311.client.make_url(BASE))
    ids = open311.ids

    def refused() -> None:
        with pytest.raises(requests.HTTPError) as refusal:
            georeport.GeoReport(root).get_service_list()
        assert refusal.value.response is not None and refusal.value.response.status_code == 403

    await asyncio.to_thread(refused)
    monkeypatch.setattr(georeport.georeport, "requests", _WithKey(open311.key))

    def read(output_format: str) -> tuple[Any, Any, Any, Any]:
        client = georeport.GeoReport(root, jurisdiction="ampmetropole.fr", output_format=output_format)
        return (
            client.get_service_list(),
            client.get_service_requests(status="open"),
            client.get_service_requests(service_request_id=str(ids["gare"])),
            client.get_service_request(str(ids["belsunce"])),
        )

    services, open_requests, by_id, one = await asyncio.to_thread(read, "json")
    assert [s["service_code"] for s in services] == [c.code for c in load_taxonomy().categories]
    assert [r["service_request_id"] for r in open_requests] == [ids["belsunce"], ids["aubagne"]]
    assert by_id[0]["status"] == "closed"
    assert one["lat"] == 43.2987654 and one["address"] == "12 Cours Belsunce, Marseille 1er"

    services, open_requests, by_id, one = await asyncio.to_thread(read, "xml")
    assert [s["service_code"] for s in services] == [c.code for c in load_taxonomy().categories]
    assert services[0]["metadata"] == "false"
    assert [r["service_request_id"] for r in open_requests] == [str(ids["belsunce"]), str(ids["aubagne"])]
    assert by_id["status"] == "closed"  # xmltodict gives one element as a mapping, not a list
    assert one["lat"] == "43.2987654" and one["zipcode"] == "13001" and one["media_url"] is None


async def test_a_database_outage_is_a_503_in_the_spec_format(
    open311: Fixture, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("database unavailable (test): connection refused")

    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(Open311, "requests", down)
    [error] = await get_json(open311, f"{BASE}/requests.json", 503)
    assert error["code"] == 503 and "database is unavailable" in error["description"]
    assert "open311: database unavailable on GET" in caplog.text
    monkeypatch.setattr(ApiKeys, "identify", down)
    root = await get_xml(open311, f"{BASE}/requests/1.xml", 503)
    assert root.tag == "errors" and root[0].findtext("code") == "503"
    assert "open311: key check failed on GET" in caplog.text and "unexpected error" not in caplog.text
