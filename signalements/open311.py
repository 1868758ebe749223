"""Open311 GeoReport v2 over the reports, read-only, in JSON and XML (the spec's element names).

    add_routes(app, store)        # the access control (callbot.console.access) asks for an integrator's key

GET /open311/v2/services.{json|xml}
    The taxonomy (config/taxonomy.yaml): service_code = the category's code, service_name = its label,
    description, metadata false (no service definition to fetch), type realtime, keywords (its words), group.
GET /open311/v2/requests.{json|xml}?service_code=&status=&start_date=&end_date=&service_request_id=&page=&page_size=
    Service requests (reports), newest first, requested in [start_date, end_date] (W3C date-times: a date, or a
    date and time with its zone; at most 90 days apart; default the last 90 days), at most `page_size` (1..1000,
    default 1000) per page (`page` from 1: the common extension). `service_code` and `status` (open|closed) take
    comma lists and may be repeated; `service_request_id` (a comma list, at most 200) overrides every other filter,
    as the spec says. `jurisdiction_id` is accepted and ignored (one jurisdiction here).
GET /open311/v2/requests/{id}.{json|xml}
    One request, in a list of one (as the spec's example).

A request has every field of the spec's example, in its order: service_request_id, status, status_notes,
service_name, service_code, description (up to 4,000 characters), agency_responsible, service_notice (null),
requested_datetime (when the report was made), updated_datetime (the last decision on it, else its creation),
expected_datetime (null), address ("12 Cours Belsunce, Marseille 1er"), address_id (null), zipcode, lat, long
(the street's, only when the street was found in the address base: Report.street_verified and a Street row of that
commune and name), media_url (null). Nothing of the caller: no number, no pseudonym, no transcript.

Status: "open" means reported and not resolved. The callbot knows a report awaiting validation and a validated one
(a person confirmed it; the work itself is tracked elsewhere): both are "open", and status_notes says which.
A rejected report will see no work: "closed", at its rejection time (updated_datetime).

Errors are the spec's: [{"code": 400, "description": "..."}] or <errors><error><code>... with the HTTP status:
400 for a malformed filter, 403 for a missing, unknown or revoked key, 404 for an unknown request or path, 503 when
the database is unavailable. Each refusal is logged (never the key).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import yaml
from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import select

from dialogue.knowledge import DEFAULT_TAXONOMY
from signalements.api_keys import INTEGRATOR
from signalements.errors import StoreUnavailable
from signalements.http_input import INT4_MAX
from signalements.models import STATUS_AWAITING, STATUS_REJECTED, STATUS_VALIDATED, Report, Street
from signalements.store import Store

log = logging.getLogger(__name__)

OPEN311_PREFIX = "/open311/"
BASE = "/open311/v2"
AGENCY = "Métropole Aix-Marseille-Provence"
DEFAULT_GROUP = "espace public"  # a category's `group:` in the taxonomy, when it has one, else this
DEFAULT_SPAN = timedelta(days=90)  # the spec's default window, and the longest one asked
MAX_PAGE_SIZE = 1000  # the spec's default limit ("first 1000 requests")
MAX_PAGE = 1_000_000
MAX_REQUEST_IDS = 200
MAX_SERVICE_CODES = 100
DESCRIPTION_MAX_CHARS = 4000  # the spec's limit
MAX_KEYWORDS = 15

STATUS_OF = {STATUS_AWAITING: "open", STATUS_VALIDATED: "open", STATUS_REJECTED: "closed"}
STORE_STATUSES = {"open": (STATUS_AWAITING, STATUS_VALIDATED), "closed": (STATUS_REJECTED,)}
STATUS_NOTES = {
    STATUS_AWAITING: "En attente de validation par un agent de la Métropole.",
    STATUS_VALIDATED: "Validé par un agent de la Métropole.",
    STATUS_REJECTED: "Rejeté par un agent de la Métropole.",
}
# The fields of a request, in the order of the spec's example.
REQUEST_FIELDS = (
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
)
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")

# W3C date-time (www.w3.org/TR/NOTE-datetime): a date, or a date and a time that carries its zone.
_W3C = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2}))?"
)
_ID = re.compile(r"[0-9]{1,10}")
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Characters XML 1.0 cannot hold, even escaped: replaced, so that every answer parses.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_KNOWN_PATHS = re.compile(r"/open311/v2/(services|requests|requests/[^/]+)\.(json|xml)")


class GeoReportError(Exception):
    """A refusal in the spec's error format: the HTTP status is also the error's code."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    keywords: str
    group: str

    def to_georeport(self) -> dict[str, Any]:
        return {
            "service_code": self.code,
            "service_name": self.name,
            "description": self.description,
            "metadata": False,
            "type": "realtime",
            "keywords": self.keywords,
            "group": self.group,
        }


def load_services(path: Path = DEFAULT_TAXONOMY) -> tuple[Service, ...]:
    """The taxonomy's categories as GeoReport services (ValueError naming the file when it is malformed)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = data["categories"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: cannot read the categories: {error}") from error
    services = []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str) or not entry.get("label"):
            raise ValueError(f"{path}: categories[{index}] needs a 'code' and a 'label'")
        label = str(entry["label"])
        name = label[:1].upper() + label[1:]
        examples = [str(e) for e in entry.get("examples") or ()]
        description = f"{name} : {' ; '.join(examples)}." if examples else f"{name}."
        words = dict.fromkeys(str(s) for s in entry.get("synonyms") or () if str(s) != label)
        keywords = ", ".join([label, *list(words)[:MAX_KEYWORDS]])
        group = str(entry.get("group") or DEFAULT_GROUP)
        services.append(Service(entry["code"], name, description, keywords, group))
    if not services:
        raise ValueError(f"{path}: no categories")
    return tuple(services)


# -- filters -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFilter:
    ids: tuple[int, ...] | None  # given: every other filter is ignored (the spec: "overrides all other arguments")
    service_codes: tuple[str, ...] | None
    statuses: tuple[str, ...] | None  # the store's
    start: datetime
    end: datetime
    page: int
    page_size: int


def _values(query: MultiMapping[str], name: str) -> list[str]:
    """A parameter that may be repeated and comma delimited; empty values count as absent."""
    return [part.strip() for raw in query.getall(name, []) for part in raw.split(",") if part.strip()]


def _shown(raw: str) -> str:
    return repr(raw[:40])


def parse_w3c(raw: str, name: str) -> datetime:
    """A W3C date-time as an aware UTC datetime; a date alone is its midnight UTC."""
    text = raw.strip().replace(" ", "+")  # a "+" in a query string arrives as a space
    found = _W3C.fullmatch(text)
    if found is None:
        raise GeoReportError(
            400,
            f"{name} must be a W3C date-time with its zone, e.g. 2026-11-01T00:00:00Z or 2026-11-01, got {_shown(raw)}",
        )
    try:
        date = datetime.strptime(found["date"], "%Y-%m-%d")
        if found["hour"] is None:
            return date.replace(tzinfo=UTC)
        zone = found["zone"]
        offset = (
            timedelta(0)
            if zone == "Z"
            else int(zone[0] + "1") * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        )
        fraction = (found["fraction"] or "0")[:6].ljust(6, "0")
        value = date.replace(
            hour=int(found["hour"]),
            minute=int(found["minute"]),
            second=int(found["second"] or 0),
            microsecond=int(fraction),
            tzinfo=timezone(offset),
        )
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise GeoReportError(400, f"{name} is not a valid date-time: {_shown(raw)}") from None


def _bounded(query: MultiMapping[str], name: str, default: int, maximum: int) -> int:
    raw = (query.get(name) or "").strip()
    if not raw:
        return default
    if not _ID.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise GeoReportError(400, f"{name} must be an integer from 1 to {maximum}, got {_shown(raw)}")
    return int(raw)


def parse_filter(query: MultiMapping[str], known_codes: Iterable[str], now: datetime) -> RequestFilter:
    """The GET requests filters, checked; GeoReportError(400) names the first one that is wrong."""
    page = _bounded(query, "page", 1, MAX_PAGE)
    page_size = _bounded(query, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    ids_given = _values(query, "service_request_id")
    if ids_given:
        if len(ids_given) > MAX_REQUEST_IDS:
            raise GeoReportError(400, f"service_request_id takes at most {MAX_REQUEST_IDS} ids, got {len(ids_given)}")
        bad = next((raw for raw in ids_given if not _ID.fullmatch(raw) or not 1 <= int(raw) <= INT4_MAX), None)
        if bad is not None:
            raise GeoReportError(400, f"service_request_id must be numeric ids, comma delimited, got {_shown(bad)}")
        ids = tuple(dict.fromkeys(int(raw) for raw in ids_given))
        return RequestFilter(ids, None, None, now, now, page, page_size)

    codes = _values(query, "service_code")
    if len(codes) > MAX_SERVICE_CODES:
        raise GeoReportError(400, f"service_code takes at most {MAX_SERVICE_CODES} codes, got {len(codes)}")
    known = set(known_codes)
    unknown = next((code for code in codes if code not in known), None)
    if unknown is not None:
        raise GeoReportError(400, f"unknown service_code {_shown(unknown)}: the codes are those of services.json")
    statuses = _values(query, "status")
    wrong = next((status for status in statuses if status not in STORE_STATUSES), None)
    if wrong is not None:
        raise GeoReportError(400, f"status must be open or closed (comma delimited), got {_shown(wrong)}")

    start_raw, end_raw = (query.get("start_date") or "").strip(), (query.get("end_date") or "").strip()
    start = parse_w3c(start_raw, "start_date") if start_raw else None
    end = parse_w3c(end_raw, "end_date") if end_raw else None
    try:
        if start is None and end is None:
            start, end = now - DEFAULT_SPAN, now
        elif start is None:
            assert end is not None
            start = end - DEFAULT_SPAN
        elif end is None:
            end = start + DEFAULT_SPAN
    except OverflowError:
        raise GeoReportError(400, "start_date or end_date is too far in time") from None
    if end < start:
        raise GeoReportError(400, "end_date is before start_date")
    if end - start > DEFAULT_SPAN:
        raise GeoReportError(400, "start_date and end_date may be at most 90 days apart (GeoReport v2)")
    return RequestFilter(
        None,
        tuple(dict.fromkeys(codes)) or None,
        tuple(dict.fromkeys(s for status in statuses for s in STORE_STATUSES[status])) or None,
        start,
        end,
        page,
        page_size,
    )


# -- reads -------------------------------------------------------------------------------------------------------

_COLUMNS = (
    Report.id,
    Report.category,
    Report.status,
    Report.description,
    Report.place,
    Report.street_number,
    Report.street_name,
    Report.street_verified,
    Report.commune,
    Report.landmark,
    Report.created_at,
    Report.reviewed_at,
)


@dataclass(frozen=True)
class _Place:
    postcode: str
    lat: float | None
    lon: float | None


def w3c(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(row: Any) -> str:
    """Most specific first: "12 Cours Belsunce, Marseille 1er"; the caller's place words when no street."""
    street = " ".join(part for part in (row.street_number, row.street_name) if part)
    parts = [part for part in (street, row.landmark) if part]
    if not parts:
        parts = [row.place]
    if row.commune and row.commune.casefold() not in ", ".join(parts).casefold():
        parts.append(row.commune)
    return ", ".join(parts)


class Open311:
    """The reads behind the routes (blocking: the routes run them in a thread)."""

    def __init__(self, store: Store, services: Sequence[Service]) -> None:
        self.store = store
        self.services = tuple(services)
        self._names = {service.code: service.name for service in self.services}

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self._names)

    def service_list(self) -> list[dict[str, Any]]:
        return [service.to_georeport() for service in self.services]

    def requests(self, wanted: RequestFilter) -> list[dict[str, Any]]:
        query = select(*_COLUMNS)
        if wanted.ids is not None:
            query = query.where(Report.id.in_(wanted.ids))
        else:
            query = query.where(Report.created_at >= wanted.start, Report.created_at <= wanted.end)
            if wanted.service_codes is not None:
                query = query.where(Report.category.in_(wanted.service_codes))
            if wanted.statuses is not None:
                query = query.where(Report.status.in_(wanted.statuses))
        query = (
            query.order_by(Report.created_at.desc(), Report.id.desc())
            .limit(wanted.page_size)
            .offset((wanted.page - 1) * wanted.page_size)
        )
        with self.store.reading() as session:
            rows = session.execute(query).all()
            verified = {(row.commune, row.street_name) for row in rows if row.street_verified and row.street_name}
            places: dict[tuple[str, str], _Place] = {}
            if verified:
                streets = session.execute(
                    select(Street.commune, Street.name, Street.postcode, Street.lat, Street.lon)
                    .where(
                        Street.commune.in_({commune for commune, _ in verified}),
                        Street.name.in_({name for _, name in verified}),
                    )
                    .order_by(Street.id)
                )
                for street in streets:
                    if (street.commune, street.name) in verified:
                        places.setdefault(
                            (street.commune, street.name), _Place(street.postcode, street.lat, street.lon)
                        )
        return [self._request(row, places.get((row.commune, row.street_name))) for row in rows]

    def _request(self, row: Any, place: _Place | None) -> dict[str, Any]:
        if not row.street_verified:
            place = None
        return {
            "service_request_id": row.id,
            "status": STATUS_OF.get(row.status, "open"),
            "status_notes": STATUS_NOTES.get(row.status),
            "service_name": self._names.get(row.category, row.category),
            "service_code": row.category,
            "description": row.description[:DESCRIPTION_MAX_CHARS],
            "agency_responsible": AGENCY,
            "service_notice": None,
            "requested_datetime": w3c(row.created_at),
            "updated_datetime": w3c(row.reviewed_at or row.created_at),
            "expected_datetime": None,
            "address": _address(row),
            "address_id": None,
            "zipcode": place.postcode if place else None,
            "lat": round(place.lat, 7) if place and place.lat is not None else None,
            "long": round(place.lon, 7) if place and place.lon is not None else None,
            "media_url": None,
        }


# -- answers -----------------------------------------------------------------------------------------------------


def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def to_xml(root_name: str, item_name: str, items: Iterable[dict[str, Any]]) -> bytes:
    """Schemaless XML with the spec's element names, no namespace; text escaped by ElementTree, and characters
    XML cannot hold replaced by U+FFFD."""
    root = ElementTree.Element(root_name)
    for item in items:
        element = ElementTree.SubElement(root, item_name)
        for name, value in item.items():
            ElementTree.SubElement(element, name).text = _xml_text(value)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode")).encode()


def answer(fmt: str, root_name: str, item_name: str, items: list[dict[str, Any]], status: int = 200) -> web.Response:
    if fmt == "xml":
        return web.Response(
            body=to_xml(root_name, item_name, items), status=status, content_type="text/xml", charset="utf-8"
        )
    text = json.dumps(items, ensure_ascii=False)
    return web.Response(text=text, status=status, content_type="application/json", charset="utf-8")


def format_of(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def error_response(path: str, status: int, description: str, headers: dict[str, str] | None = None) -> web.Response:
    """The spec's error answer, XML for a path ending in .xml, else JSON."""
    response = answer(format_of(path), "errors", "error", [{"code": status, "description": description}], status)
    response.headers.update(headers or {})
    return response


# -- routes ------------------------------------------------------------------------------------------------------

OPEN311_KEY = web.AppKey("open311", Open311)
routes = web.RouteTableDef()


def add_routes(app: web.Application, store: Store, taxonomy: Path = DEFAULT_TAXONOMY) -> None:
    app[OPEN311_KEY] = Open311(store, load_services(taxonomy))
    app.add_routes(routes)
    # Last: anything else under /open311/ is answered in the spec's format too (aiohttp's would be JSON of ours).
    app.router.add_route("*", "/open311/{tail:.*}", _unknown)


def _refused(request: web.Request, error: GeoReportError) -> web.Response:
    who = request.get(INTEGRATOR, "no integrator")
    log.info("open311: %s on %s %s (%s): %s", error.status, request.method, request.path[:200], who, error)
    return error_response(request.path, error.status, error.description)


async def _serve(request: web.Request, build: Callable[[], Awaitable[web.Response]]) -> web.Response:
    try:
        return await build()
    except GeoReportError as error:
        return _refused(request, error)
    except StoreUnavailable as error:
        log.warning("open311: database unavailable on %s %s: %s", request.method, request.path[:200], error)
        return error_response(request.path, 503, "The database is unavailable; try again in a moment.")


@routes.get(BASE + "/services.{format:json|xml}")
async def services(request: web.Request) -> web.Response:
    open311 = request.app[OPEN311_KEY]
    return answer(request.match_info["format"], "services", "service", open311.service_list())


@routes.get(BASE + "/requests.{format:json|xml}")
async def service_requests(request: web.Request) -> web.Response:
    open311 = request.app[OPEN311_KEY]

    async def build() -> web.Response:
        wanted = parse_filter(request.query, open311.codes, datetime.now(UTC))
        items = await asyncio.to_thread(open311.requests, wanted)
        return answer(request.match_info["format"], "service_requests", "request", items)

    return await _serve(request, build)


@routes.get(BASE + "/requests/{request_id:[^/]+}.{format:json|xml}")
async def service_request(request: web.Request) -> web.Response:
    open311 = request.app[OPEN311_KEY]
    raw = request.match_info["request_id"]

    async def build() -> web.Response:
        if not _ID.fullmatch(raw) or not 1 <= int(raw) <= INT4_MAX:
            raise GeoReportError(404, f"no service request {_shown(raw)}")
        wanted = RequestFilter((int(raw),), None, None, datetime.now(UTC), datetime.now(UTC), 1, 1)
        items = await asyncio.to_thread(open311.requests, wanted)
        if not items:
            raise GeoReportError(404, f"no service request {raw}")
        return answer(request.match_info["format"], "service_requests", "request", items)

    return await _serve(request, build)


async def _unknown(request: web.Request) -> web.Response:
    if _KNOWN_PATHS.fullmatch(request.path) and request.method not in ("GET", "HEAD"):
        error = GeoReportError(405, f"{request.method} is not served here: this GeoReport endpoint is read-only")
        response = _refused(request, error)
        response.headers["Allow"] = "GET, HEAD"
        return response
    if re.fullmatch(r"/open311/v2/services/[^/]+\.(json|xml)", request.path):
        message = "no service definition: every service has metadata false"
    else:
        message = (
            f"no such GeoReport resource; see {BASE}/services.json, {BASE}/requests.json, {BASE}/requests/{{id}}.json"
        )
    return _refused(request, GeoReportError(404, message))
