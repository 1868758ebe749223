"""Scoring: tolerant text matching, strict numbers and categories, verdicts and the summary figures; and the
scripted caller (turn choice, tracker reading) against a fake dialogue at the HTTP boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from dialogue.eval.dataset import Conversation, Expectation, ExpectedReport, Turn
from dialogue.eval.noise import AsrNoiser
from dialogue.eval.runner import asked_targets, next_turn, play_conversation, read_tracker
from dialogue.eval.scoring import (
    ConversationRun,
    ParsedUtterance,
    Targets,
    compare_report,
    conversation_figures,
    description_matches,
    field_matches,
    judge,
    missed_targets,
    utterance_figures,
)


@pytest.mark.parametrize(
    ("name", "expected", "actual"),
    [
        ("street_name", "rue de la République", "rue de la republique"),
        ("street_name", "rue de la République", "Rue  de la RÉPUBLIQUE "),
        ("street_name", "boulevard Baille", "bd Baille"),
        ("street_name", "rue Sainte-Victoire", "rue sainte victoire"),
        ("street_name", "rue d'Italie", "rue d\u2019Italie"),
        ("street_name", "rue des Trois Mages", "rue des 3 Mages"),
        ("street_name", "avenue du 11 Novembre 1918", "avenue du onze novembre mille neuf cent dix huit"),
        ("commune", "Aix-en-Provence", "aix en provence"),
        ("commune", "Marseille", "Marseille 5e"),
        ("commune", "Marseille", "Marseille 13e arrondissement"),
        ("landmark", "gare Saint-Charles", "la gare Saint Charles"),
        ("landmark", "Ombrière du Vieux-Port", "l'ombrière"),
        ("landmark", "Ombrière du Vieux-Port", "sur le vieux-port"),
        ("landmark", "mairie", "mairie de Septèmes"),  # more precise than expected, holding all its words
        ("street_number", "3 bis", "3bis"),
        ("street_number", "12 bis", "12 B"),
        ("street_number", "27 ter", "27 TER"),
        ("callback_number", "0698765432", "06 98 76 54 32"),
        ("callback_number", "0678901234", "+33 6 78 90 12 34"),
        ("category", "proprete", "proprete"),
        ("danger", True, True),
        ("danger", False, "false"),
        ("landmark", None, None),
        ("landmark", None, ""),
    ],
)
def test_fields_that_match(name: str, expected: str | bool | None, actual: Any) -> None:
    assert field_matches(name, expected, actual)


@pytest.mark.parametrize(
    ("name", "expected", "actual"),
    [
        ("street_number", "14", "40"),
        ("street_number", "12 bis", "12"),
        ("street_number", "12", "12 ter"),
        ("street_number", "3", "trois"),
        ("street_name", "avenue du 8 Mai 1945", "avenue du 18 Mai 1945"),
        ("street_name", "rue des Trois Mages", "rue des Deux Mages"),
        ("street_name", "boulevard Chave", "boulevard Baille"),
        ("commune", "Marseille", "Marignane"),
        ("commune", "Aix-en-Provence", "Aix"),
        ("callback_number", "0698765432", "0698765423"),
        ("category", "proprete", "Propreté"),
        ("category", "stationnement_vehicule", "autre"),
        ("danger", False, None),
        ("danger", True, "oui"),
        ("street_name", "rue Paradis", None),
        ("landmark", None, "Vieux-Port"),
        ("landmark", "parc Jourdan", "parc"),
        ("landmark", "marché des Capucins", "Noailles"),
        ("landmark", "mairie", "parc"),
    ],
)
def test_fields_that_do_not_match(name: str, expected: str | bool | None, actual: Any) -> None:
    assert not field_matches(name, expected, actual)


def report_conversation(**fields: str | bool | None) -> Conversation:
    return Conversation(
        id="c",
        turns=(Turn("x"),),
        tags=("one-sentence",),
        expect=Expectation(frozenset({"report_saved"}), ExpectedReport(dict(fields), ("trou",))),
    )


def test_compare_report_checks_each_expected_field_and_description_keywords() -> None:
    expected = ExpectedReport({"category": "chaussee_trottoirs", "street_number": "14", "danger": True}, ("trou",))
    actual = {
        "category": "chaussee_trottoirs",
        "street_number": "40",
        "danger": True,
        "description": "Un gros TROU devant chez moi",
    }
    assert compare_report(expected, actual) == {
        "category": True,
        "street_number": False,
        "danger": True,
        "description": True,
    }


def test_judge_explains_what_went_wrong() -> None:
    conversation = report_conversation(category="proprete", street_number="14")
    run = ConversationRun(
        conversation,
        "clean",
        report_id=3,
        report={"category": "proprete", "street_number": "40", "description": "trou"},
    )
    verdict = judge(run)
    assert not verdict.success
    assert verdict.why == "street_number='40' (expected '14')"
    handed_over = ConversationRun(conversation, "clean", handoff_reason="low_confidence")
    assert judge(handed_over).why == "outcome handoff (low_confidence), expected report_saved"
    good = ConversationRun(
        conversation,
        "noisy",
        report_id=4,
        report={"category": "proprete", "street_number": "14", "description": "un trou"},
    )
    assert judge(good).success


def test_handoff_reason_must_match_when_given() -> None:
    conversation = Conversation(
        id="e", turns=(Turn("gaz"),), tags=("emergency",), expect=Expectation(frozenset({"handoff"}), None, "emergency")
    )
    assert judge(ConversationRun(conversation, "clean", handoff_reason="emergency")).success
    assert not judge(ConversationRun(conversation, "clean", handoff_reason="caller_request")).success
    assert not judge(ConversationRun(conversation, "clean", hung_up=True)).success


def test_conversation_figures() -> None:
    report = report_conversation(category="proprete")
    out_of_scope = Conversation(
        id="o", turns=(Turn("facture"),), tags=("out-of-scope",), expect=Expectation(frozenset({"ended"}))
    )
    runs = [
        ConversationRun(report, "clean", report_id=1, report={"category": "proprete", "description": "trou"}),
        ConversationRun(report, "clean", handoff_reason="low_confidence"),  # false handoff, fields all wrong
        ConversationRun(out_of_scope, "clean", hung_up=True),
        ConversationRun(out_of_scope, "clean", hung_up=True, started_report=True),  # ended, but started one
    ]
    figures = conversation_figures(runs)
    assert figures.task_completion == pytest.approx(3 / 4)
    assert figures.report_completion == pytest.approx(1 / 2)
    assert figures.field_accuracy == {"category": 0.5, "description": 0.5}
    assert figures.false_handoff_rate == pytest.approx(1 / 4)
    assert figures.out_of_scope_rejection == pytest.approx(1 / 2)
    missed = missed_targets(figures, figures, None, Targets())
    assert any(m.startswith("task completion (clean)  75.0%") or "task completion (clean) 75.0%" in m for m in missed)
    assert any("out-of-scope rejection (conversations, clean)" in m for m in missed)


def parsed(
    expected: str, predicted: str, variant: str = "clean", category: str | None = None, guessed: str | None = None
) -> ParsedUtterance:
    return ParsedUtterance("u", variant, "t", expected, predicted, 0.9, category, guessed)


def test_utterance_figures() -> None:
    figures = utterance_figures(
        [
            parsed("greet", "greet"),
            parsed("report_problem", "report_problem", category="proprete", guessed="autre"),
            parsed("out_of_scope", "report_problem"),
            parsed("out_of_scope", "out_of_scope", "noisy-generated"),
            parsed("out_of_scope", "deny", "noisy-handwritten"),
        ]
    )
    assert figures.intent_accuracy_clean == pytest.approx(2 / 3)
    assert figures.intent_accuracy_noisy == pytest.approx(1 / 2)
    assert figures.category_accuracy_clean == 0.0
    assert figures.category_accuracy_noisy is None
    assert figures.out_of_scope_rejection == pytest.approx(2 / 3)  # "deny" did not start a report either
    assert figures.per_intent_clean == {"greet": 1.0, "out_of_scope": 0.0, "report_problem": 1.0}


# -- the scripted caller -------------------------------------------------------------------------------------


def test_next_turn_answers_what_is_asked_but_never_jumps_an_ordered_line() -> None:
    opening, description = Turn("ouverture"), Turn("desc", "description", if_asked=True)
    danger, callback = Turn("non", "danger"), Turn("non merci", "callback")
    correction = Turn("non c'est à Aubagne")
    assert next_turn([opening, description, danger], ()) == 0
    assert next_turn([description, danger, callback], ("callback",)) == 2
    assert next_turn([description, danger, callback], ("category", "description")) == 0
    assert next_turn([description, danger, callback], ()) == 1  # if_asked lines wait to be asked
    assert next_turn([description, correction, danger], ("danger",)) == 1  # the ordered line goes first
    assert next_turn([description], ("danger",)) is None


def test_asked_targets_maps_the_question_slots() -> None:
    assert asked_targets({"pending_question": "commune"}) == ("place",)
    assert asked_targets({"pending_question": "problem"}) == ("category", "description")
    assert asked_targets({"pending_question": "callback_number"}) == ("callback",)
    assert asked_targets({"requested_slot": "danger"}) == ("danger",)
    assert asked_targets({"pending_question": "offer_human"}) == ()


def test_read_tracker_takes_the_slots_as_they_were_when_the_report_was_announced() -> None:
    events = [
        {"event": "slot", "name": "pending_question", "value": "place"},
        {"event": "slot", "name": "category", "value": "proprete"},
        {"event": "slot", "name": "street_name", "value": "rue Sainte"},
        {"event": "bot", "text": "Enregistré", "data": {"custom": {"callbot": {"report_id": 9}}}},
        {"event": "slot", "name": "street_name", "value": None},
    ]
    reading = read_tracker({"events": events, "slots": {"street_name": None}})
    assert reading.slots_at_report is not None
    assert reading.slots_at_report["street_name"] == "rue Sainte"
    assert reading.started_report
    assert not read_tracker(
        {"events": [{"event": "slot", "name": "pending_question", "value": "offer_human"}]}
    ).started_report


@dataclass
class Reply:
    texts: list[str]
    hangup: bool = False
    handoff_reason: str | None = None
    report_id: int | None = None


@dataclass
class ScriptedBot:
    """Asks problem, danger, callback, then reads back; records what it was sent."""

    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    questions: list[str] = field(default_factory=lambda: ["danger", "callback_consent", "confirm"])
    slots: dict[str, Any] = field(default_factory=dict)

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> Reply:
        self.received.append((text, metadata))
        if self.questions:
            self.slots["pending_question"] = self.questions.pop(0)
            return Reply([f"question {self.slots['pending_question']}"])
        return Reply(["c'est enregistré"], hangup=True, report_id=7)

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        events = [
            {"event": "slot", "name": "category", "value": "eclairage_public"},
            {"event": "slot", "name": "danger", "value": False},
            {"event": "bot", "data": {"custom": {"callbot": {"report_id": 7}}}},
        ]
        return {"slots": dict(self.slots), "events": events}


async def test_play_conversation_follows_the_questions_and_reads_the_report() -> None:
    conversation = Conversation(
        id="c1",
        caller_number="0611223344",
        tags=(),
        turns=(
            Turn("Un lampadaire en panne rue Sainte."),
            Turn("Il est éteint.", "description", if_asked=True),
            Turn("Non merci.", "callback"),
            Turn("Non.", "danger"),
            Turn("Oui.", "confirm"),
        ),
        expect=Expectation(
            frozenset({"report_saved"}), ExpectedReport({"category": "eclairage_public", "danger": False})
        ),
    )
    bot = ScriptedBot()
    seen: list[str] = []
    run = await play_conversation(
        conversation, "clean", bot, bot, AsrNoiser(), "id-1", on_exchange=lambda exchange: seen.append(exchange.caller)
    )
    assert [text for text, _ in bot.received] == ["Un lampadaire en panne rue Sainte.", "Non.", "Non merci.", "Oui."]
    assert seen == [text for text, _ in bot.received]
    assert bot.received[0][1] == {"channel": "phone", "caller_number": "0611223344", "asr_confidence": 1.0}
    assert run.outcome == "report_saved" and run.report_source == "tracker"
    assert judge(run).success

    noisy_bot = ScriptedBot()
    noisy = await play_conversation(conversation, "noisy", noisy_bot, noisy_bot, AsrNoiser(), "id-2")
    confidences = [metadata["asr_confidence"] for _, metadata in noisy_bot.received]
    assert all(0.6 <= c <= 0.8 for c in confidences)
    assert all(text == text.lower() for text, _ in noisy_bot.received)
    assert noisy.outcome == "report_saved"


async def test_a_failing_dialogue_is_a_failed_run_not_a_crash() -> None:
    class Broken(ScriptedBot):
        async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> Reply:
            raise ConnectionError("refused")

    conversation = report_conversation(category="proprete")
    bot = Broken()
    run = await play_conversation(conversation, "clean", bot, bot, AsrNoiser(), "id")
    assert run.outcome == "error" and "refused" in (run.error or "")
    assert not judge(run).success


async def test_a_caller_whose_script_is_over_goes_quiet() -> None:
    conversation = Conversation(
        id="c2",
        caller_number=None,
        tags=("out-of-scope",),
        turns=(Turn("Une question sur ma facture."),),
        expect=Expectation(frozenset({"ended", "handoff"})),
    )
    bot = ScriptedBot(questions=["offer_human", "offer_human", "offer_human", "offer_human"])
    run = await play_conversation(conversation, "clean", bot, bot, AsrNoiser(), "id-3")
    # The bot still asks: two silences, then the runner stops (the bot decides; here it never ends the call).
    assert [text for text, _ in bot.received] == ["Une question sur ma facture.", "/no_input", "/no_input"]
    assert run.outcome == "unfinished"


def test_a_square_is_right_as_a_street_or_as_a_landmark_and_nothing_else_is() -> None:
    as_landmark = ExpectedReport({"landmark": "place des Prêcheurs", "commune": "Aix-en-Provence"})
    stored = {"street_name": "place des Prêcheurs", "commune": "Aix-en-Provence"}
    assert compare_report(as_landmark, stored) == {"landmark": True, "commune": True}
    as_street = ExpectedReport({"street_name": "place des Prêcheurs"})
    assert compare_report(as_street, {"landmark": "place des Prêcheurs"}) == {"street_name": True}
    school = ExpectedReport({"landmark": "école des Prêcheurs"})
    assert compare_report(school, {"street_name": "école des Prêcheurs"}) == {"landmark": False}


def test_a_description_keyword_matches_its_inflected_forms_but_not_a_longer_word() -> None:
    assert description_matches(["éteint"], "les lampes du quai sont toutes éteintes")
    assert description_matches(["nid de poule"], "deux nids de poules")
    assert not description_matches(["vitre"], "la vitrine du tabac")
    assert not description_matches(["trou"], "rien du tout")


async def test_a_caller_asked_a_house_number_they_never_gave_says_they_do_not_know_once() -> None:
    conversation = Conversation(
        id="c3",
        caller_number=None,
        tags=(),
        turns=(Turn("Des détritus avenue Foch à Vitrolles."), Turn("Non.", "danger"), Turn("Oui.", "confirm")),
        expect=Expectation(frozenset({"report_saved"})),
    )
    bot = ScriptedBot(questions=["street_number", "street_number", "danger", "confirm"])
    await play_conversation(conversation, "clean", bot, bot, AsrNoiser(), "id-4")
    # Asked twice: "I don't know" once, then the script goes on (its next line answers another question).
    sent = [text for text, _ in bot.received]
    assert sent == ["Des détritus avenue Foch à Vitrolles.", "je sais pas", "Non.", "Oui.", "/no_input"]


def test_a_roundabout_is_right_as_a_street_or_as_a_landmark() -> None:
    expected = ExpectedReport({"landmark": "rond-point des Platanes"})
    assert compare_report(expected, {"street_name": "rond-point des Platanes"}) == {"landmark": True}
    assert compare_report(expected, {"street_name": "rue des Platanes"}) == {"landmark": False}
