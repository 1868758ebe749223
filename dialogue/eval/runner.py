"""Playing the evaluation set against a Rasa server: scripted conversations over the REST channel (through
dialogue.client.DialogueClient, as the callbot does) and single utterances through /model/parse.

The saved report is read from the signalements store when we know its database (we started the action server
ourselves), else rebuilt from the Rasa tracker: slot events replayed up to the bot message that carried the
report id, so a dialogue that clears its slots after saving is still read right.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from dialogue.eval.dataset import NO_INPUT, Conversation, Turn, Utterance
from dialogue.eval.noise import AsrNoiser
from dialogue.eval.scoring import ConversationRun, Exchange, ParsedUtterance
from dialogue.slots import REPORT_SLOTS

log = logging.getLogger(__name__)

# Slots in which a dialogue says what it is asking for: ours ("pending_question") or a Rasa form's.
QUESTION_SLOTS = ("pending_question", "requested_slot")
# Question (slot value) -> what a scripted turn answers (Turn.target), best first: asked "what is the problem?",
# a caller describes it.
QUESTION_TARGETS: dict[str, tuple[str, ...]] = {
    "problem": ("category", "description"),
    "category": ("category", "description"),
    "description": ("description",),
    **{name: ("place",) for name in ("place", "commune", "street_name", "street_number", "landmark")},
    "danger": ("danger",),
    "callback_consent": ("callback",),
    "callback_number": ("callback",),
    "confirm": ("confirm",),
    "correction": ("confirm",),
}
REPORT_QUESTIONS = frozenset(QUESTION_TARGETS) - {"confirm", "correction"}
CLEAN_ASR_CONFIDENCE = 1.0
# Silent turns sent after the script's last line while the bot still waits for an answer.
SILENCES_AT_THE_END = 2


class Dialogue(Protocol):
    """The part of dialogue.client.DialogueClient the evaluation uses."""

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> Any: ...


class Tracker(Protocol):
    async def tracker(self, conversation_id: str) -> dict[str, Any]: ...


class ReportStore(Protocol):
    def open_call(self, conversation_id: str) -> None: ...

    def report(self, report_id: int) -> dict[str, Any] | None: ...


class RasaHttp:
    """Rasa's HTTP API beyond the REST channel: the tracker and /model/parse (needs --enable-api)."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._params = {"token": token} if token else {}
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        url = f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/tracker"
        async with self._session.get(url, params=self._params) as response:
            response.raise_for_status()
            body = await response.json(content_type=None)
        return body if isinstance(body, dict) else {}

    async def parse(self, text: str) -> dict[str, Any]:
        async with self._session.post(
            f"{self.base_url}/model/parse", json={"text": text}, params=self._params
        ) as response:
            response.raise_for_status()
            body = await response.json(content_type=None)
        return body if isinstance(body, dict) else {}

    async def close(self) -> None:
        await self._session.close()


class SignalementsReports:
    """The store the action server writes to (CALLBOT_DATABASE_URL): each played conversation is recorded as a
    call first, as the callbot does (the store refuses a report for a call nobody recorded), and the saved
    reports are read back."""

    def __init__(self, database_url: str) -> None:
        from signalements import Store

        # Reading reports needs no pseudonymisation; the key only has to be valid.
        self._store = Store(database_url, b"evaluation-read-only-key-000000")

    def open_call(self, conversation_id: str) -> None:
        self._store.open_call(conversation_id, "text", None, datetime.now(UTC))

    def report(self, report_id: int) -> dict[str, Any] | None:
        try:
            view = self._store.get_report(report_id)
        except Exception as error:  # NotFound or a DB error: fall back to the tracker, say why
            log.warning("report %s not readable from the store: %s", report_id, error)
            return None
        return {name: getattr(view, name, None) for name in REPORT_SLOTS}


# -- tracker ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackerReading:
    slots_at_report: dict[str, Any] | None  # report slots when the bot announced the saved report
    final_slots: dict[str, Any]
    started_report: bool  # a category was set or a report question asked


def _report_id_of(event: dict[str, Any]) -> int | None:
    data = event.get("data")
    custom = data.get("custom") if isinstance(data, dict) else None
    control = custom.get("callbot") if isinstance(custom, dict) else None
    value = control.get("report_id") if isinstance(control, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_tracker(tracker: dict[str, Any]) -> TrackerReading:
    slots: dict[str, Any] = {}
    at_report: dict[str, Any] | None = None
    started = False
    events = tracker.get("events")
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind == "slot":
            name, value = event.get("name"), event.get("value")
            if isinstance(name, str):
                slots[name] = value
                if (name == "category" and value) or (name in QUESTION_SLOTS and value in REPORT_QUESTIONS):
                    started = True
        elif kind in ("restart", "reset_slots", "session_started"):
            slots = {}
        elif kind == "bot" and _report_id_of(event) is not None:
            at_report = {name: slots.get(name) for name in REPORT_SLOTS}
            started = True
    final = tracker.get("slots")
    final_slots = dict(final) if isinstance(final, dict) else slots
    return TrackerReading(at_report, final_slots, started)


def asked_question(slots: dict[str, Any]) -> str | None:
    """The question the bot is asking (a key of QUESTION_TARGETS), if known."""
    for name in QUESTION_SLOTS:
        value = slots.get(name)
        if isinstance(value, str) and value in QUESTION_TARGETS:
            return value
    return None


def asked_targets(slots: dict[str, Any]) -> tuple[str, ...]:
    """What the bot is asking for, as turn targets (empty when unknown)."""
    question = asked_question(slots)
    return QUESTION_TARGETS[question] if question else ()


# Questions about a detail a caller may not know: asked one the script has no line for, the caller says so rather
# than answering the next question early (a real caller asked for a house number they never gave does not know it).
DETAIL_QUESTIONS = frozenset({"street_number"})
UNKNOWN_DETAIL = "je sais pas"


# -- one conversation ----------------------------------------------------------------------------------------


def next_turn(pending: Sequence[Turn], asked: Sequence[str]) -> int | None:
    """Position in `pending` of the line a scripted caller says next (None: nothing left to say).

    Lines without `for` are said in order and nothing jumps over them; among the lines before the next such one,
    the one answering what the bot just asked goes first; `if_asked` lines are said only when asked.
    """
    barrier = next((i for i, turn in enumerate(pending) if turn.target is None), len(pending) - 1)
    candidates = list(enumerate(pending[: barrier + 1]))
    for target in asked:
        for position, turn in candidates:
            if turn.target == target:
                return position
    return next((position for position, turn in candidates if not turn.if_asked), None)


def spoken_line(
    conversation: Conversation, index: int, turn: Turn, variant: str, noiser: AsrNoiser
) -> tuple[str, float | None]:
    """(text sent, asr_confidence) for one turn in the clean or noisy variant."""
    if turn.is_no_input:
        return turn.say.strip(), None
    if variant == "clean":
        return turn.say, CLEAN_ASR_CONFIDENCE if turn.asr_confidence is None else turn.asr_confidence
    key = f"{conversation.id}#{index}"
    text = turn.noisy or noiser.noisy(turn.say, key, protected_values(conversation))
    confidence = noiser.confidence(key)
    if turn.asr_confidence is not None:
        confidence = min(confidence, turn.asr_confidence)
    return text, confidence


def protected_values(conversation: Conversation) -> list[str]:
    report = conversation.expect.report
    if report is None:
        return []
    return [v for k, v in report.fields.items() if isinstance(v, str) and k != "category"]


ExchangeHook = Callable[[Exchange], Awaitable[None] | None]


async def play_conversation(
    conversation: Conversation,
    variant: str,
    dialogue: Dialogue,
    rasa: Tracker,
    noiser: AsrNoiser,
    conversation_id: str,
    store: ReportStore | None = None,
    on_exchange: ExchangeHook | None = None,
) -> ConversationRun:
    run = ConversationRun(conversation=conversation, variant=variant)
    pending = list(enumerate(conversation.turns))
    asked: tuple[str, ...] = ()
    question: str | None = None
    unknown_said: set[str] = set()
    metadata_base = {"channel": "phone", "caller_number": conversation.caller_number}
    silences_left = SILENCES_AT_THE_END
    try:
        if store is not None:
            await asyncio.to_thread(store.open_call, conversation_id)
        while True:
            position = next_turn([turn for _, turn in pending], asked) if pending else None
            chosen = pending[position][1] if position is not None else None
            answers_another = chosen is not None and chosen.target not in (None, *asked)
            if question in DETAIL_QUESTIONS and question not in unknown_said and answers_another:
                unknown_said.add(question)
                index, turn = -1, Turn(UNKNOWN_DETAIL)
            elif position is not None:
                index, turn = pending.pop(position)
            elif silences_left > 0:
                # A caller with nothing left to say goes quiet, as on a real line: the bot decides how the call ends.
                silences_left -= 1
                index, turn = -1, Turn(NO_INPUT)
            else:
                break
            text, confidence = spoken_line(conversation, index, turn, variant, noiser)
            reply = await dialogue.send(conversation_id, text, {**metadata_base, "asr_confidence": confidence})
            exchange = Exchange(caller=text, bot=list(reply.texts), asr_confidence=confidence)
            run.exchanges.append(exchange)
            if on_exchange is not None:
                maybe = on_exchange(exchange)
                if maybe is not None:
                    await maybe
            if reply.report_id is not None:
                run.report_id = reply.report_id
            if reply.handoff_reason is not None:
                run.handoff_reason = reply.handoff_reason
            if reply.hangup:
                run.hung_up = True
            if run.report_id is not None or run.handoff_reason is not None or run.hung_up:
                break
            slots = (await rasa.tracker(conversation_id)).get("slots") or {}
            question, asked = asked_question(slots), asked_targets(slots)
        reading = read_tracker(await rasa.tracker(conversation_id))
        run.started_report = reading.started_report or run.report_id is not None
        if run.report_id is not None:
            stored = store.report(run.report_id) if store is not None else None
            if stored is not None:
                run.report, run.report_source = stored, "store"
            else:
                run.report = reading.slots_at_report or {n: reading.final_slots.get(n) for n in REPORT_SLOTS}
                run.report_source = "tracker"
    except Exception as error:  # one broken conversation must not stop the evaluation; it counts as failed
        log.exception("conversation %s (%s) failed", conversation.id, variant)
        run.error = f"{type(error).__name__}: {error}"
    return run


async def play_all(
    conversations: Sequence[Conversation],
    variants: Iterable[str],
    dialogue: Dialogue,
    rasa: Tracker,
    noiser: AsrNoiser,
    run_tag: str,
    store: ReportStore | None = None,
    concurrency: int = 4,
) -> list[ConversationRun]:
    limit = asyncio.Semaphore(concurrency)

    async def one(conversation: Conversation, variant: str) -> ConversationRun:
        async with limit:
            return await play_conversation(
                conversation, variant, dialogue, rasa, noiser, f"eval-{run_tag}-{variant}-{conversation.id}", store
            )

    jobs = [one(c, v) for v in variants for c in conversations]
    return list(await asyncio.gather(*jobs))


# -- utterances -------------------------------------------------------------------------------------------------


class Parser(Protocol):
    async def parse(self, text: str) -> dict[str, Any]: ...


CategoryGuess = Callable[[str, dict[str, Any]], str | None]


def category_from_parse(text: str, parsed: dict[str, Any]) -> str | None:
    """A `category` entity if the NLU extracts one, else the taxonomy keyword matcher the actions use
    (dialogue.knowledge), "autre" when nothing matches."""
    for entity in parsed.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity") == "category" and isinstance(entity.get("value"), str):
            return str(entity["value"])
    from dialogue.knowledge import OTHER_CATEGORY, default_taxonomy

    return default_taxonomy().match(text) or OTHER_CATEGORY


def utterance_variants(utterance: Utterance, noiser: AsrNoiser) -> list[tuple[str, str]]:
    variants = [("clean", utterance.text), ("noisy-generated", noiser.noisy(utterance.text, utterance.id))]
    if utterance.noisy:
        variants.append(("noisy-handwritten", utterance.noisy))
    return variants


async def parse_all(
    utterances: Sequence[Utterance],
    parser: Parser,
    noiser: AsrNoiser,
    guess_category: CategoryGuess = category_from_parse,
    concurrency: int = 4,
) -> list[ParsedUtterance]:
    limit = asyncio.Semaphore(concurrency)

    async def one(utterance: Utterance, variant: str, text: str) -> ParsedUtterance:
        async with limit:
            parsed = await parser.parse(text)
        intent = parsed.get("intent") or {}
        return ParsedUtterance(
            id=utterance.id,
            variant=variant,
            text=text,
            expected_intent=utterance.intent,
            predicted_intent=str(intent.get("name") or ""),
            confidence=float(intent.get("confidence") or 0.0),
            expected_category=utterance.category,
            predicted_category=guess_category(text, parsed) if utterance.category else None,
        )

    jobs = [one(u, variant, text) for u in utterances for variant, text in utterance_variants(u, noiser)]
    return list(await asyncio.gather(*jobs))
