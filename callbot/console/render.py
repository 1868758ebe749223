"""Pages from Jinja2 templates (autoescaped), with the formats the console shows: Paris time, durations, French
numbers, energy."""

from __future__ import annotations

import logging
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from callbot.config import REPO_ROOT
from callbot.console.access import PERMISSIONS, current_user

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
PARIS = ZoneInfo("Europe/Paris")

TAXONOMY = REPO_ROOT / "config" / "taxonomy.yaml"


def _category_labels(path: Path = TAXONOMY) -> dict[str, str]:
    """code -> label from the taxonomy the dialogue uses (a label missing there shows the code)."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {c["code"]: str(c["label"])[:1].upper() + str(c["label"])[1:] for c in loaded["categories"]}
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        log.warning("category labels unavailable (%s): the console shows codes", error)
        return {}


CATEGORY_LABELS = _category_labels()
STATUS_LABELS = {"awaiting_validation": "À valider", "validated": "Validé", "rejected": "Rejeté"}
CHANNEL_LABELS = {"sip": "Téléphone", "webrtc": "Navigateur", "text": "Texte"}
OUTCOME_LABELS = {
    "report_saved": "Signalement enregistré",
    "completed": "Terminé",
    "transferred": "Transféré à un conseiller",
    "callback_requested": "Rappel demandé",
    "transfer_failed": "Transfert échoué",
    "handoff_unavailable": "Aucun conseiller",
    "caller_hung_up": "Raccroché par l'appelant",
    "too_long": "Durée maximale atteinte",
    "error": "Erreur",
    "interrupted": "Interrompu (arrêt du serveur)",
    "shutdown": "Arrêt du serveur",
    "media_timeout": "Plus d'audio",
}
REASON_LABELS = {
    "caller_request": "Demande de l'appelant",
    "dtmf": "Touche 0",
    "low_confidence": "Compréhension insuffisante",
    "no_input": "Silence de l'appelant",
    "emergency": "Danger immédiat",
    "technical": "Problème technique",
    "out_of_scope": "Hors périmètre",
    "outside_hours": "Hors horaires",
    "transfer_failed": "Transfert échoué",
    "no_transfer": "Pas de transfert configuré",
}
ACTION_LABELS = {
    "validated": "a validé",
    "corrected": "a corrigé puis validé",
    "rejected": "a rejeté",
    "callback_done": "a rappelé",
    "callback_no_answer": "a tenté de rappeler (pas de réponse)",
}
# A report's fields as the report page names them (the audit trail shows what changed by these names)
FIELD_LABELS = {
    "category": "Catégorie",
    "category_other_words": "Précision (catégorie « autre »)",
    "place": "Lieu",
    "street_number": "N°",
    "street_name": "Voie",
    "street_verified": "Voie trouvée",
    "commune": "Commune",
    "landmark": "Repère",
    "description": "Description",
    "danger": "Danger",
    "callback_consent": "Rappel accepté",
    "callback_number": "Numéro de rappel",
}
CALLBACK_STATUS_LABELS = {"pending": "À rappeler", "done": "Rappelé", "no_answer": "Pas de réponse"}


def local(value: datetime | None, pattern: str = "%d/%m/%Y %H:%M") -> str:
    return value.astimezone(PARIS).strftime(pattern) if value is not None else "—"


def age(value: datetime, now: datetime) -> str:
    minutes = int((now - value).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d}"
    return f"{minutes // (24 * 60)} j"


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", ",")
    return text


def percent(value: float | None) -> str:
    return "—" if value is None else f"{number(value * 100, 0)} %"


def label(mapping: dict[str, str], key: str | None) -> str:
    if key is None:
        return "—"
    return mapping.get(key, key.replace("_", " "))


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a template naming a missing value fails its test, not silently blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(local=local, number=number, percent=percent)
    env.globals.update(
        CATEGORY_LABELS=CATEGORY_LABELS,
        STATUS_LABELS=STATUS_LABELS,
        CHANNEL_LABELS=CHANNEL_LABELS,
        OUTCOME_LABELS=OUTCOME_LABELS,
        REASON_LABELS=REASON_LABELS,
        ACTION_LABELS=ACTION_LABELS,
        CALLBACK_STATUS_LABELS=CALLBACK_STATUS_LABELS,
        FIELD_LABELS=FIELD_LABELS,
        label=label,
        age=age,
    )
    return env


ENVIRONMENT = _environment()


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    user = current_user(request)
    page = ENVIRONMENT.get_template(template).render(
        user=user,
        can=PERMISSIONS.get(user.role, frozenset()) if user else frozenset(),
        csrf_token=user.csrf_token if user else "",
        path=request.path,
        **context,
    )
    response = web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
    # Not the app's "no-referrer": under it browsers send "Origin: null" with the page's own forms, which the
    # same-origin check (callbot.console.access) refuses. Other sites still get no referrer.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


# aiohttp's own errors (unknown address, wrong method, body over the limit) say it in English
AIOHTTP_MESSAGES = {
    400: "Requête invalide.",
    404: "Cette page n'existe pas.",
    405: "Cette adresse ne s'utilise pas ainsi (méthode non permise).",
    413: "Les données envoyées sont trop volumineuses.",
}


def error_page(status: int, message: str) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = None
    if message == phrase or message.startswith("Maximum request body size"):
        message = AIOHTTP_MESSAGES.get(status, f"Erreur {status}.")
    return ENVIRONMENT.get_template("error.html").render(
        user=None, can=frozenset(), csrf_token="", path="", status=status, message=message
    )
