"""The held-out evaluation set: YAML files of utterances and scripted conversations, loaded and checked.

Every schema error raises DatasetError with the file and the entry id (or index) in its message, so a typo in the
data is found in seconds. The format is documented in dialogue/eval/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_UTTERANCES = EVAL_DIR / "utterances.yaml"
DEFAULT_CONVERSATIONS = EVAL_DIR / "conversations.yaml"

INTENTS = frozenset(
    {
        "greet",
        "goodbye",
        "thank",
        "affirm",
        "deny",
        "report_problem",
        "inform",
        "correct",
        "repeat",
        "request_human",
        "emergency",
        "out_of_scope",
        "dont_know",
        "no_input",
        "nlu_fallback",
    }
)
HANDOFF_REASONS = frozenset({"caller_request", "low_confidence", "emergency", "out_of_scope", "no_input", "technical"})
Outcome = Literal["report_saved", "handoff", "ended"]
OUTCOMES: frozenset[str] = frozenset({"report_saved", "handoff", "ended"})
# What a scripted line answers; "place" covers street_number/street_name/commune/landmark, "callback" both callback
# slots, "confirm" the read-back.
TURN_TARGETS = frozenset({"category", "description", "place", "danger", "callback", "confirm"})
REPORT_TEXT_FIELDS = ("category", "street_number", "street_name", "commune", "landmark", "place", "callback_number")
REPORT_BOOL_FIELDS = ("danger", "callback_consent")
NO_INPUT = "/no_input"


class DatasetError(ValueError):
    """The evaluation data does not follow the documented schema."""


@dataclass(frozen=True)
class Utterance:
    id: str
    text: str
    intent: str
    category: str | None = None
    noisy: str | None = None  # hand-written ASR-like version
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    say: str
    target: str | None = None  # what the line answers (TURN_TARGETS); None: sent in order, whatever is asked
    if_asked: bool = False  # only sent when the bot asks for `target`
    noisy: str | None = None  # hand-written ASR-like version
    asr_confidence: float | None = None  # override for the clean run

    @property
    def is_no_input(self) -> bool:
        return self.say.strip() == NO_INPUT


@dataclass(frozen=True)
class ExpectedReport:
    """Only the fields given in the data are scored; text fields compared tolerantly, numbers strictly."""

    fields: dict[str, str | bool | None]
    description_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expectation:
    outcomes: frozenset[str]  # acceptable outcomes (usually one)
    report: ExpectedReport | None = None
    handoff_reason: str | None = None


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[Turn, ...]
    expect: Expectation
    caller_number: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def expects_report(self) -> bool:
        return "report_saved" in self.expect.outcomes

    @property
    def out_of_scope(self) -> bool:
        return "out-of-scope" in self.tags


@dataclass(frozen=True)
class EvaluationSet:
    utterances: tuple[Utterance, ...] = field(default_factory=tuple)
    conversations: tuple[Conversation, ...] = field(default_factory=tuple)


def _read_entries(path: Path, key: str) -> list[Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict) or key not in raw:
        raise DatasetError(f"{path}: top level must be a mapping with a '{key}' list")
    if raw.get("version", 1) != 1:
        raise DatasetError(f"{path}: unsupported version {raw.get('version')!r} (expected 1)")
    entries = raw[key]
    if not isinstance(entries, list) or not entries:
        raise DatasetError(f"{path}: '{key}' must be a non-empty list")
    return entries


class _Entry:
    """Typed access to one YAML mapping, with errors that name the file and the entry."""

    def __init__(self, path: Path, index: int, raw: Any, allowed: frozenset[str]) -> None:
        self.path = path
        self.where = f"entry #{index + 1}"
        if not isinstance(raw, dict):
            raise self.error(f"must be a mapping, got {type(raw).__name__}")
        self.raw: dict[str, Any] = raw
        if isinstance(raw.get("id"), str):
            self.where = f"entry '{raw['id']}'"
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise self.error(f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")

    def error(self, message: str) -> DatasetError:
        return DatasetError(f"{self.path}: {self.where}: {message}")

    def text(self, key: str, required: bool = True) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.error(f"missing '{key}'")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"'{key}' must be a non-empty string, got {value!r}")
        return value

    def required_text(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        return value

    def tags(self) -> tuple[str, ...]:
        value = self.raw.get("tags", [])
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise self.error(f"'tags' must be a list of strings, got {value!r}")
        return tuple(value)


def _check_intent(entry: _Entry, intent: str) -> None:
    if intent not in INTENTS:
        raise entry.error(f"unknown intent {intent!r} (known: {', '.join(sorted(INTENTS))})")


def _check_category(entry: _Entry, category: str | None, categories: frozenset[str] | None) -> None:
    if category is not None and categories is not None and category not in categories:
        raise entry.error(f"unknown category {category!r} (taxonomy: {', '.join(sorted(categories))})")


def _check_unique(path: Path, ids: list[str]) -> None:
    seen: set[str] = set()
    for entry_id in ids:
        if entry_id in seen:
            raise DatasetError(f"{path}: entry '{entry_id}': duplicate id")
        seen.add(entry_id)


def load_utterances(path: Path = DEFAULT_UTTERANCES, categories: frozenset[str] | None = None) -> tuple[Utterance, ...]:
    """Load and check the utterance file; `categories` (taxonomy codes) enables the category check."""
    allowed = frozenset({"id", "text", "intent", "category", "noisy", "tags"})
    result = []
    for index, raw in enumerate(_read_entries(path, "utterances")):
        entry = _Entry(path, index, raw, allowed)
        intent = entry.required_text("intent")
        _check_intent(entry, intent)
        category = entry.text("category", required=False)
        _check_category(entry, category, categories)
        result.append(
            Utterance(
                id=entry.required_text("id"),
                text=entry.required_text("text"),
                intent=intent,
                category=category,
                noisy=entry.text("noisy", required=False),
                tags=entry.tags(),
            )
        )
    _check_unique(path, [u.id for u in result])
    return tuple(result)


def _load_turn(entry: _Entry, index: int, raw: Any) -> Turn:
    if isinstance(raw, str):
        if not raw.strip():
            raise entry.error(f"turn #{index + 1}: empty line")
        return Turn(say=raw)
    if not isinstance(raw, dict):
        raise entry.error(f"turn #{index + 1}: must be a string or a mapping, got {type(raw).__name__}")
    allowed = {"say", "for", "if_asked", "noisy", "asr_confidence"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise entry.error(f"turn #{index + 1}: unknown key(s) {', '.join(unknown)}")
    say = raw.get("say")
    if not isinstance(say, str) or not say.strip():
        raise entry.error(f"turn #{index + 1}: 'say' must be a non-empty string")
    target = raw.get("for")
    if target is not None and target not in TURN_TARGETS:
        raise entry.error(f"turn #{index + 1}: 'for' must be one of {', '.join(sorted(TURN_TARGETS))}, got {target!r}")
    if_asked = raw.get("if_asked", False)
    if not isinstance(if_asked, bool) or (if_asked and target is None):
        raise entry.error(f"turn #{index + 1}: 'if_asked' must be a boolean and needs 'for'")
    noisy = raw.get("noisy")
    if noisy is not None and (not isinstance(noisy, str) or not noisy.strip()):
        raise entry.error(f"turn #{index + 1}: 'noisy' must be a non-empty string")
    confidence = raw.get("asr_confidence")
    if confidence is not None and (
        isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0.0 <= confidence <= 1.0
    ):
        raise entry.error(f"turn #{index + 1}: 'asr_confidence' must be a number in [0, 1]")
    return Turn(
        say=say,
        target=target,
        if_asked=if_asked,
        noisy=noisy,
        asr_confidence=None if confidence is None else float(confidence),
    )


def _load_report(entry: _Entry, raw: Any, categories: frozenset[str] | None) -> ExpectedReport:
    if not isinstance(raw, dict) or not raw:
        raise entry.error("'expect.report' must be a non-empty mapping")
    allowed = set(REPORT_TEXT_FIELDS) | set(REPORT_BOOL_FIELDS) | {"description_keywords"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise entry.error(
            f"expect.report: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )
    fields: dict[str, str | bool | None] = {}
    for name in REPORT_TEXT_FIELDS:
        if name in raw:
            value = raw[name]
            if value is not None and not isinstance(value, str):
                raise entry.error(f"expect.report.{name} must be a string (quote numbers), got {value!r}")
            fields[name] = value
    for name in REPORT_BOOL_FIELDS:
        if name in raw:
            if not isinstance(raw[name], bool):
                raise entry.error(f"expect.report.{name} must be true or false, got {raw[name]!r}")
            fields[name] = raw[name]
    category = fields.get("category")
    if not isinstance(category, str):
        raise entry.error("expect.report.category is required")
    _check_category(entry, category, categories)
    keywords = raw.get("description_keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise entry.error("expect.report.description_keywords must be a list of strings")
    return ExpectedReport(fields=fields, description_keywords=tuple(keywords))


def _load_expectation(entry: _Entry, categories: frozenset[str] | None) -> Expectation:
    raw = entry.raw.get("expect")
    if not isinstance(raw, dict):
        raise entry.error("missing 'expect' mapping")
    unknown = sorted(set(raw) - {"outcome", "report", "handoff_reason"})
    if unknown:
        raise entry.error(f"expect: unknown key(s) {', '.join(unknown)}")
    outcome = raw.get("outcome")
    outcomes = [outcome] if isinstance(outcome, str) else outcome
    if not isinstance(outcomes, list) or not outcomes or not all(o in OUTCOMES for o in outcomes):
        raise entry.error(
            f"expect.outcome must be one of {', '.join(sorted(OUTCOMES))} (or a list of them), got {outcome!r}"
        )
    report = None
    if "report_saved" in outcomes:
        report = _load_report(entry, raw.get("report"), categories)
    elif "report" in raw:
        raise entry.error("expect.report is only allowed with outcome report_saved")
    reason = raw.get("handoff_reason")
    if reason is not None:
        if "handoff" not in outcomes:
            raise entry.error("expect.handoff_reason is only allowed with outcome handoff")
        if reason not in HANDOFF_REASONS:
            raise entry.error(
                f"expect.handoff_reason must be one of {', '.join(sorted(HANDOFF_REASONS))}, got {reason!r}"
            )
    return Expectation(outcomes=frozenset(outcomes), report=report, handoff_reason=reason)


def load_conversations(
    path: Path = DEFAULT_CONVERSATIONS, categories: frozenset[str] | None = None
) -> tuple[Conversation, ...]:
    """Load and check the conversation file; `categories` (taxonomy codes) enables the category check."""
    return _conversations_from_entries(path, _read_entries(path, "conversations"), categories)


def load_conversation_file(path: Path, categories: frozenset[str] | None = None) -> tuple[Conversation, ...]:
    """A file holding either a `conversations:` list or one conversation mapping at the top level."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: invalid YAML: {exc}") from exc
    if isinstance(raw, dict) and "conversations" not in raw and "turns" in raw:
        return _conversations_from_entries(path, [raw], categories)
    return load_conversations(path, categories)


def _conversations_from_entries(
    path: Path, entries: list[Any], categories: frozenset[str] | None
) -> tuple[Conversation, ...]:
    allowed = frozenset({"id", "turns", "expect", "caller_number", "tags"})
    result = []
    for index, raw in enumerate(entries):
        entry = _Entry(path, index, raw, allowed)
        conversation_id = entry.required_text("id")
        turns_raw = entry.raw.get("turns")
        if not isinstance(turns_raw, list) or not turns_raw:
            raise entry.error("'turns' must be a non-empty list")
        turns = tuple(_load_turn(entry, i, t) for i, t in enumerate(turns_raw))
        caller = entry.raw.get("caller_number")
        if caller is not None and not (isinstance(caller, str) and caller.lstrip("+").isdigit()):
            raise entry.error(f"'caller_number' must be a quoted string of digits, got {caller!r}")
        result.append(
            Conversation(
                id=conversation_id,
                turns=turns,
                expect=_load_expectation(entry, categories),
                caller_number=caller,
                tags=entry.tags(),
            )
        )
    _check_unique(path, [c.id for c in result])
    return tuple(result)


def taxonomy_codes() -> frozenset[str] | None:
    """Category codes from config/taxonomy.yaml, or None if the taxonomy cannot be read (check skipped)."""
    try:
        from dialogue.knowledge import default_taxonomy

        return frozenset(c.code for c in default_taxonomy().categories)
    except Exception:  # the taxonomy is another team's file: its absence must not stop loading the set
        return None


def load_default_set(
    utterances: Path = DEFAULT_UTTERANCES, conversations: Path = DEFAULT_CONVERSATIONS
) -> EvaluationSet:
    codes = taxonomy_codes()
    return EvaluationSet(
        utterances=load_utterances(utterances, codes), conversations=load_conversations(conversations, codes)
    )
