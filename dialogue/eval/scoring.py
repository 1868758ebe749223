"""Comparing what the dialogue produced with what the evaluation set expects, and the summary figures.

Text fields are compared after folding (case, accents, punctuation, spacing, usual street-type abbreviations);
numbers (street numbers with bis/ter, phone numbers) and category codes are compared strictly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from text_to_num import alpha2digit

from dialogue.eval.dataset import Conversation, ExpectedReport

_ABBREVIATIONS = {
    "bd": "boulevard",
    "bld": "boulevard",
    "boul": "boulevard",
    "av": "avenue",
    "ave": "avenue",
    "ch": "chemin",
    "che": "chemin",
    "pl": "place",
    "imp": "impasse",
    "rte": "route",
    "st": "saint",
    "ste": "sainte",
    "pte": "porte",
    "qu": "quai",
    "all": "allee",
    "mte": "montee",
    "trav": "traverse",
    "sq": "square",
    "crs": "cours",
}
_REPETITION = {"b": "bis", "bis": "bis", "t": "ter", "ter": "ter", "q": "quater", "quater": "quater"}
_ARRONDISSEMENT = re.compile(r"\s+\d{1,2}\s*(e|er|eme|ieme)?(\s+arrondissement)?$")


def fold(text: str) -> str:
    """Lower case, no accents, punctuation and hyphens as spaces, single spaces, abbreviations expanded,
    number words as digits ("Trois Frères" = "3 Frères": the same number, still compared strictly)."""
    decomposed = unicodedata.normalize("NFKD", _digits(text.lower()))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = re.sub(r"[^a-z0-9]+", " ", bare).split()
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


_GENERIC_PLACE_WORDS = frozenset(
    {
        "parc",
        "gare",
        "place",
        "port",
        "plage",
        "stade",
        "jardin",
        "eglise",
        "ecole",
        "mairie",
        "quai",
        "centre",
        "square",
        "marche",
        "college",
        "lycee",
        "hopital",
        "pont",
        "rond",
        "point",
        "parking",
        "devant",
        "cote",
        "pres",
    }
)
# Leading words that say where, not what: "sur le cours Mirabeau", "devant la poste", "près de la gare".
_LEADING = frozenset(
    {
        "le",
        "la",
        "les",
        "l",
        "au",
        "aux",
        "du",
        "de",
        "des",
        "d",
        "sur",
        "devant",
        "pres",
        "vers",
        "a",
        "cote",
        "en",
        "face",
        "juste",
        "euh",
        "derriere",
        "dans",
    }
)


def _digits(text: str) -> str:
    try:
        return str(alpha2digit(text, "fr", threshold=0))
    except Exception:  # text2num raises on odd inputs; then the words stay words
        return text


def _landmark_words(text: str) -> str:
    words = fold(text).split()
    while words and words[0] in _LEADING:
        words = words[1:]
    return " ".join(words)


def normalise_street_number(value: str) -> tuple[int, str] | None:
    """ "12 bis", "12bis", "12 B" -> (12, "bis"); None when there is no number at all."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", value)
    if not match:
        return None
    suffix = match.group(2).lower()
    if suffix and suffix not in _REPETITION:
        return None
    return int(match.group(1)), _REPETITION.get(suffix, "")


def normalise_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if value.strip().startswith("+33") or (digits.startswith("33") and len(digits) == 11):
        digits = "0" + digits[2:]
    elif digits.startswith("0033"):
        digits = "0" + digits[4:]
    return digits


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


def _contains_phrase(haystack: str, needle: str) -> bool:
    return bool(needle) and f" {needle} " in f" {haystack} "


def field_matches(name: str, expected: str | bool | None, actual: Any) -> bool:
    """Whether one report field is right; `expected` None means the field must be empty."""
    if expected is None:
        return _is_blank(actual)
    if isinstance(expected, bool):
        return _as_bool(actual) is expected
    if _is_blank(actual) or not isinstance(actual, str | int):
        return False
    actual_text = str(actual)
    if name == "category":
        return actual_text.strip() == expected
    if name == "street_number":
        number = normalise_street_number(expected)
        return number is not None and normalise_street_number(actual_text) == number
    if name == "callback_number":
        return normalise_phone(actual_text) == normalise_phone(expected)
    if name == "commune":
        # "Marseille 5e" names the same commune as "Marseille"; other communes must match as folded.
        return _ARRONDISSEMENT.sub("", fold(actual_text)) == _ARRONDISSEMENT.sub("", fold(expected))
    if name == "landmark":
        # A landmark is said many ways ("l'Ombrière", "Ombrière du Vieux-Port"). Right: the bot's naming holds all
        # the expected words ("mairie de Septèmes" for "mairie"), or is part of them but still names something
        # ("Ombrière" for "Ombrière du Vieux-Port"; "parc" alone for "parc Borély" names nothing).
        wanted, got = _landmark_words(expected), _landmark_words(actual_text)
        names_something = any(len(word) >= 4 and word not in _GENERIC_PLACE_WORDS for word in got.split())
        return _contains_phrase(got, wanted) or (_contains_phrase(wanted, got) and names_something)
    return fold(actual_text) == fold(expected)


def description_matches(keywords: Iterable[str], description: Any) -> bool:
    """Every keyword in the description, its words inflected or not ("éteint" is in "toutes éteintes")."""
    text = fold(description) if isinstance(description, str) else ""
    return all(
        re.search(r"\b" + r"\s+".join(rf"{re.escape(w)}(?:e|s|es|x)?" for w in fold(k).split()) + r"\b", text)
        for k in keywords
    )


# A square or a roundabout is a street of the address base and a landmark to callers: "place du Marché" and
# "rond-point de la Gare" are right in either field.
_SQUARE_WORDS = ("place ", "placette ", "square ", "parvis ", "esplanade ", "rond point ", "giratoire ")


def _square_in_other_field(name: str, expected: Any, actual: Mapping[str, Any]) -> bool:
    if not isinstance(expected, str) or not fold(expected).startswith(_SQUARE_WORDS):
        return False
    other = {"landmark": "street_name", "street_name": "landmark"}.get(name)
    return other is not None and field_matches("landmark", expected, actual.get(other))


def compare_report(expected: ExpectedReport, actual: Mapping[str, Any]) -> dict[str, bool]:
    """Per expected field: matched or not (plus "description" when keywords are given)."""
    result = {
        name: field_matches(name, value, actual.get(name)) or _square_in_other_field(name, value, actual)
        for name, value in expected.fields.items()
    }
    if expected.description_keywords:
        result["description"] = description_matches(expected.description_keywords, actual.get("description"))
    return result


# -- one conversation ----------------------------------------------------------------------------------------


@dataclass
class Exchange:
    caller: str
    bot: list[str]
    asr_confidence: float | None
    custom: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ConversationRun:
    """What happened when one scripted conversation was played (one variant: clean or noisy)."""

    conversation: Conversation
    variant: str
    exchanges: list[Exchange] = field(default_factory=list)
    handoff_reason: str | None = None
    hung_up: bool = False
    report_id: int | None = None
    report: dict[str, Any] | None = None
    report_source: str | None = None  # "store" | "tracker"
    started_report: bool = False
    error: str | None = None

    @property
    def outcome(self) -> str:
        if self.error:
            return "error"
        if self.report_id is not None:
            return "report_saved"
        if self.handoff_reason is not None:
            return "handoff"
        if self.hung_up:
            return "ended"
        return "unfinished"


@dataclass(frozen=True)
class Verdict:
    success: bool
    fields: dict[str, bool]
    why: str  # empty on success


def judge(run: ConversationRun) -> Verdict:
    expect = run.conversation.expect
    outcome = run.outcome
    if outcome not in expect.outcomes:
        detail = f" ({run.handoff_reason})" if outcome == "handoff" else f" ({run.error})" if run.error else ""
        return Verdict(False, {}, f"outcome {outcome}{detail}, expected {'/'.join(sorted(expect.outcomes))}")
    if outcome == "handoff" and expect.handoff_reason and run.handoff_reason != expect.handoff_reason:
        return Verdict(False, {}, f"handoff reason {run.handoff_reason}, expected {expect.handoff_reason}")
    if outcome == "report_saved" and expect.report is not None:
        fields = compare_report(expect.report, run.report or {})
        wrong = [
            f"{name}={(run.report or {}).get(name)!r} (expected {expect.report.fields.get(name)!r})"
            for name, ok in fields.items()
            if not ok
        ]
        return Verdict(not wrong, fields, "; ".join(wrong))
    return Verdict(True, {}, "")


# -- the whole set ---------------------------------------------------------------------------------------------


def ratio(hits: int, total: int) -> float | None:
    return None if total == 0 else hits / total


@dataclass(frozen=True)
class ConversationFigures:
    count: int
    task_completion: float | None  # all conversations, each judged by its own expectation
    report_completion: float | None  # conversations that expect a saved report
    field_accuracy: dict[str, float]
    false_handoff_rate: float | None  # handoffs where none was acceptable
    out_of_scope_rejection: float | None  # out-of-scope conversations that never started a report


def conversation_figures(runs: Sequence[ConversationRun]) -> ConversationFigures:
    verdicts = [(run, judge(run)) for run in runs]
    reports = [(r, v) for r, v in verdicts if r.conversation.expects_report]
    field_hits: dict[str, list[bool]] = {}
    for run, verdict in reports:
        expected = run.conversation.expect.report
        assert expected is not None
        # A report never saved counts as wrong on every field it should have had.
        fields = verdict.fields if run.outcome == "report_saved" else compare_report(expected, {})
        for name, ok in fields.items():
            field_hits.setdefault(name, []).append(ok)
    no_handoff_expected = [r for r, _ in verdicts if "handoff" not in r.conversation.expect.outcomes]
    out_of_scope = [r for r, _ in verdicts if r.conversation.out_of_scope]
    return ConversationFigures(
        count=len(runs),
        task_completion=ratio(sum(v.success for _, v in verdicts), len(verdicts)),
        report_completion=ratio(sum(v.success for _, v in reports), len(reports)),
        field_accuracy={name: sum(hits) / len(hits) for name, hits in sorted(field_hits.items())},
        false_handoff_rate=ratio(
            sum(r.handoff_reason is not None for r in no_handoff_expected), len(no_handoff_expected)
        ),
        out_of_scope_rejection=ratio(sum(not r.started_report for r in out_of_scope), len(out_of_scope)),
    )


STYLE_TAGS = ("asr-style", "typed")


@dataclass(frozen=True)
class SafetyFigures:
    """The measures the issue of understanding sets targets on, for one variant."""

    report_completion_by_style: dict[str, float | None]  # reports complete and correct, per style tag
    emergencies_handed_over: float | None  # handed over as emergencies, with the 112 advice said
    hazards_escalated: float | None  # ordinary hazards (a report with danger) handed over as emergencies
    out_of_scope_without_report: float | None  # out-of-scope calls in which no report was saved


def safety_figures(runs: Sequence[ConversationRun]) -> SafetyFigures:
    verdicts = [(run, judge(run)) for run in runs]
    by_style: dict[str, float | None] = {}
    for style in STYLE_TAGS:
        reports = [v for r, v in verdicts if r.conversation.expects_report and style in r.conversation.tags]
        by_style[style] = ratio(sum(v.success for v in reports), len(reports))
    emergencies = [r for r, _ in verdicts if r.conversation.expect.handoff_reason == "emergency"]
    hazards = [
        r
        for r, _ in verdicts
        if r.conversation.expects_report
        and r.conversation.expect.report is not None
        and r.conversation.expect.report.fields.get("danger") is True
    ]
    out_of_scope = [r for r, _ in verdicts if r.conversation.out_of_scope]
    return SafetyFigures(
        report_completion_by_style=by_style,
        emergencies_handed_over=ratio(
            sum(r.handoff_reason == "emergency" and advised_112(r) for r in emergencies), len(emergencies)
        ),
        hazards_escalated=ratio(sum(r.handoff_reason == "emergency" for r in hazards), len(hazards)),
        out_of_scope_without_report=ratio(sum(r.outcome != "report_saved" for r in out_of_scope), len(out_of_scope)),
    )


def advised_112(run: ConversationRun) -> bool:
    return any("112" in text for exchange in run.exchanges for text in exchange.bot)


# Intents that start (or feed) a report: an out-of-scope line classified so was not rejected.
REPORT_INTENTS = frozenset({"report_problem", "inform"})


@dataclass(frozen=True)
class ParsedUtterance:
    id: str
    variant: str  # "clean" | "noisy-generated" | "noisy-handwritten"
    text: str
    expected_intent: str
    predicted_intent: str
    confidence: float
    expected_category: str | None
    predicted_category: str | None

    @property
    def intent_ok(self) -> bool:
        return self.predicted_intent == self.expected_intent

    @property
    def noisy(self) -> bool:
        return self.variant != "clean"


@dataclass(frozen=True)
class UtteranceFigures:
    intent_accuracy_clean: float | None
    intent_accuracy_noisy: float | None
    category_accuracy_clean: float | None
    category_accuracy_noisy: float | None
    out_of_scope_rejection: float | None  # out-of-scope lines (all variants) not read as a report
    per_intent_clean: dict[str, float]


def utterance_figures(parsed: Sequence[ParsedUtterance]) -> UtteranceFigures:
    def accuracy(items: list[ParsedUtterance]) -> float | None:
        return ratio(sum(p.intent_ok for p in items), len(items))

    def category_accuracy(items: list[ParsedUtterance]) -> float | None:
        with_category = [p for p in items if p.expected_category]
        return ratio(sum(p.predicted_category == p.expected_category for p in with_category), len(with_category))

    clean = [p for p in parsed if not p.noisy]
    noisy = [p for p in parsed if p.noisy]
    out_of_scope = [p for p in parsed if p.expected_intent == "out_of_scope"]
    per_intent: dict[str, float] = {}
    for intent in sorted({p.expected_intent for p in clean}):
        value = accuracy([p for p in clean if p.expected_intent == intent])
        if value is not None:
            per_intent[intent] = value
    return UtteranceFigures(
        intent_accuracy_clean=accuracy(clean),
        intent_accuracy_noisy=accuracy(noisy),
        category_accuracy_clean=category_accuracy(clean),
        category_accuracy_noisy=category_accuracy(noisy),
        out_of_scope_rejection=ratio(
            sum(p.predicted_intent not in REPORT_INTENTS for p in out_of_scope), len(out_of_scope)
        ),
        per_intent_clean=per_intent,
    )


@dataclass(frozen=True)
class Targets:
    task_completion_clean: float = 0.95
    task_completion_noisy: float = 0.85
    out_of_scope_rejection: float = 0.90


def missed_targets(
    clean: ConversationFigures, noisy: ConversationFigures, utterances: UtteranceFigures | None, targets: Targets
) -> list[str]:
    """Human-readable list of the targets not met (empty when all are met)."""
    missed = []

    def below(name: str, value: float | None, target: float) -> None:
        if value is None or value < target:
            shown = "n/a" if value is None else f"{value:.1%}"
            missed.append(f"{name} {shown} < {target:.0%}")

    below("task completion (clean)", clean.task_completion, targets.task_completion_clean)
    below("task completion (noisy)", noisy.task_completion, targets.task_completion_noisy)
    for name, figures in (("clean", clean), ("noisy", noisy)):
        if figures.out_of_scope_rejection is not None:
            below(
                f"out-of-scope rejection (conversations, {name})",
                figures.out_of_scope_rejection,
                targets.out_of_scope_rejection,
            )
    if utterances is not None:
        below("out-of-scope rejection (utterances)", utterances.out_of_scope_rejection, targets.out_of_scope_rejection)
    return missed
