"""Presenting evaluation results: the text summary for people and the JSON document for tools."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from dialogue.eval.scoring import (
    ConversationFigures,
    ConversationRun,
    ParsedUtterance,
    UtteranceFigures,
    judge,
    safety_figures,
)


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:6.1%}"


def conversation_failures(runs: Sequence[ConversationRun]) -> list[dict[str, Any]]:
    failures = []
    for run in runs:
        verdict = judge(run)
        if verdict.success:
            continue
        failures.append(
            {
                "id": run.conversation.id,
                "variant": run.variant,
                "tags": list(run.conversation.tags),
                "why": verdict.why,
                "outcome": run.outcome,
                "report_source": run.report_source,
                "exchanges": [
                    {"caller": e.caller, "asr_confidence": e.asr_confidence, "bot": e.bot} for e in run.exchanges
                ],
            }
        )
    return failures


def intent_confusions(parsed: Sequence[ParsedUtterance]) -> list[dict[str, Any]]:
    """Wrong intents grouped by (expected, predicted), most frequent first, with examples."""
    groups: dict[tuple[str, str], list[ParsedUtterance]] = {}
    for item in parsed:
        if not item.intent_ok:
            groups.setdefault((item.expected_intent, item.predicted_intent), []).append(item)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [
        {
            "expected": e,
            "predicted": p,
            "count": len(items),
            "examples": [
                {"id": i.id, "variant": i.variant, "text": i.text, "confidence": round(i.confidence, 3)}
                for i in items[:4]
            ],
        }
        for (e, p), items in ordered
    ]


def category_errors(parsed: Sequence[ParsedUtterance]) -> list[dict[str, Any]]:
    return [
        {
            "id": p.id,
            "variant": p.variant,
            "text": p.text,
            "expected": p.expected_category,
            "predicted": p.predicted_category,
        }
        for p in parsed
        if p.expected_category and p.predicted_category != p.expected_category
    ]


def to_json(
    clean: ConversationFigures | None,
    noisy: ConversationFigures | None,
    utterances: UtteranceFigures | None,
    runs: Sequence[ConversationRun],
    parsed: Sequence[ParsedUtterance],
    missed: list[str],
    meta: dict[str, Any],
) -> dict[str, Any]:
    return {
        "meta": meta,
        "conversations": {"clean": asdict(clean) if clean else None, "noisy": asdict(noisy) if noisy else None},
        "utterances": asdict(utterances) if utterances else None,
        "safety": {
            variant: asdict(safety_figures(selected))
            for variant in ("clean", "noisy")
            if (selected := [r for r in runs if r.variant == variant])
        },
        "targets_missed": missed,
        "conversation_failures": conversation_failures(runs),
        "intent_confusions": intent_confusions(parsed),
        "category_errors": category_errors(parsed),
    }


def format_text(
    clean: ConversationFigures | None,
    noisy: ConversationFigures | None,
    utterances: UtteranceFigures | None,
    runs: Sequence[ConversationRun],
    parsed: Sequence[ParsedUtterance],
    missed: list[str],
    max_failures: int = 15,
) -> str:
    lines: list[str] = []
    if utterances is not None:
        count = Counter(p.variant for p in parsed)
        lines += [
            f"Utterances ({count['clean']} clean, {count['noisy-generated']} generated noisy, "
            f"{count['noisy-handwritten']} hand-written noisy)",
            f"  intent accuracy      clean {pct(utterances.intent_accuracy_clean)}   "
            f"noisy {pct(utterances.intent_accuracy_noisy)}",
            f"  category accuracy    clean {pct(utterances.category_accuracy_clean)}   "
            f"noisy {pct(utterances.category_accuracy_noisy)}",
            f"  out-of-scope rejected      {pct(utterances.out_of_scope_rejection)}",
            "  per intent (clean):  " + ", ".join(f"{k} {v:.0%}" for k, v in utterances.per_intent_clean.items()),
        ]
    for name, figures in (("clean", clean), ("noisy", noisy)):
        if figures is None:
            continue
        lines += [
            f"Conversations ({name}, {figures.count})",
            f"  task completion      {pct(figures.task_completion)}   (reports only {pct(figures.report_completion)})",
            f"  false handoff rate   {pct(figures.false_handoff_rate)}",
            f"  out-of-scope rejected {pct(figures.out_of_scope_rejection)}",
            "  field accuracy:      " + ", ".join(f"{k} {v:.0%}" for k, v in figures.field_accuracy.items()),
        ]
    for variant in ("clean", "noisy"):
        selected = [r for r in runs if r.variant == variant]
        if not selected:
            continue
        safety = safety_figures(selected)
        styles = ", ".join(f"{k} {pct(v).strip()}" for k, v in safety.report_completion_by_style.items())
        lines += [
            f"Safety and styles ({variant})",
            f"  reports complete by style: {styles}",
            f"  emergencies handed over with the 112 advice {pct(safety.emergencies_handed_over)}",
            f"  ordinary hazards escalated {pct(safety.hazards_escalated)}",
            f"  out of scope without a report {pct(safety.out_of_scope_without_report)}",
        ]
    failures = conversation_failures(runs)
    if failures:
        lines.append(f"Failed conversations ({len(failures)}, first {min(len(failures), max_failures)}):")
        for failure in failures[:max_failures]:
            lines.append(f"  - {failure['id']} [{failure['variant']}] {failure['why']}")
            for exchange in failure["exchanges"][-3:]:
                lines.append(f"      caller: {exchange['caller']}")
                lines.append(f"      bot:    {' | '.join(exchange['bot'])[:220]}")
    confusions = intent_confusions(parsed)
    if confusions:
        lines.append("Most frequent intent errors (expected -> predicted):")
        for group in confusions[:max_failures]:
            example = group["examples"][0]
            lines.append(
                f"  {group['count']:3d}  {group['expected']} -> {group['predicted'] or '(none)'}"
                f"   e.g. {example['text']!r} [{example['variant']}]"
            )
    lines.append("Targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return "\n".join(lines)
