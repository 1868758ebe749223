"""The dashboard (today, this week, today by hour) and the CSV exports.

Energy per call is the charter's calculator: the call's share of the server's and its children's CPU time
(callbot.energy) x watts per core -> Wh, x the grid's gCO2e/kWh -> gCO2e; the factors are shown beside it.
Exports are what the call centre's spreadsheets open: UTF-8 with a BOM, "," or ";" between fields.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from aiohttp import web

from callbot.console.access import may, require
from callbot.console.forms import console_of, day_range, in_thread, paris_bounds, store_errors
from callbot.console.render import PARIS, render
from callbot.energy import energy_of

routes = web.RouteTableDef()
EXPORT_DEFAULT_DAYS = 31
EXPORT_MAX_DAYS = 366


@routes.get("/console/tableau-de-bord")
@store_errors
async def dashboard(request: web.Request) -> web.StreamResponse:
    require(request, "read")
    console = console_of(request)
    now = datetime.now(PARIS)
    today = datetime.combine(now.date(), time(), PARIS)
    week = today - timedelta(days=now.weekday())
    tomorrow = today + timedelta(days=1)
    periods = {
        "Aujourd'hui": await in_thread(console.queries.figures, today, tomorrow),
        "Cette semaine": await in_thread(console.queries.figures, week, tomorrow),
    }
    energy = {
        name: energy_of(figures.cpu_seconds_per_call, console.settings.energy)
        if figures.cpu_seconds_per_call is not None
        else None
        for name, figures in periods.items()
    }
    by_hour = await in_thread(console.queries.calls_by_hour, today, 24)
    return render(
        request,
        "dashboard.html",
        periods=periods,
        energy=energy,
        energy_settings=console.settings.energy,
        by_hour=by_hour,
        by_hour_max=max([*by_hour, 1]),
        today=now.date(),
    )


@routes.get(r"/console/export/{what:signalements|appels}.csv")
@store_errors
async def export(request: web.Request) -> web.StreamResponse:
    user = require(request, "export")
    console = console_of(request)
    first, last = day_range(request.query, default_days=EXPORT_DEFAULT_DAYS)
    assert first is not None and last is not None
    if (last - first).days >= EXPORT_MAX_DAYS:
        raise web.HTTPBadRequest(text=f"Exportez au plus {EXPORT_MAX_DAYS} jours à la fois.")
    separator = request.query.get("sep", ";")
    if separator not in (",", ";"):
        raise web.HTTPBadRequest(text="Séparateur : « , » ou « ; ».")
    start, end = paris_bounds(first, last)
    assert start is not None and end is not None
    what = request.match_info["what"]
    if what == "signalements":
        rows = await in_thread(
            lambda: list(console.queries.export_reports(start, end, with_numbers=may(user, "numbers")))
        )
    else:
        rows = await in_thread(lambda: list(console.queries.export_calls(start, end)))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{what}-{_stamp(first)}-{_stamp(last)}.csv"',
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    buffer.write("\ufeff")  # the BOM: spreadsheets then read UTF-8, not the local code page
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    for index, row in enumerate(rows):
        writer.writerow([_cell(value, separator) for value in row])
        if index % 500 == 499:
            await response.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode("utf-8"))
    await response.write_eof()
    return response


def _stamp(day: date) -> str:
    return day.strftime("%Y%m%d")


def _cell(value: object, separator: str) -> str:
    """One CSV cell: booleans in French, decimals with a comma when ";" separates (French spreadsheets), and
    text that a spreadsheet would run as a formula made inert (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if separator == ";" else text
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
