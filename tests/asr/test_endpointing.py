"""The end-of-turn policy: short after a complete short answer, longer mid-number, mid-address, mid-sentence."""

from __future__ import annotations

from asr.endpointing import AdaptiveEndOfTurn, EndOfTurn, FixedEndOfTurn


def test_a_short_yes_ends_sooner_than_a_description_and_a_number_waits_longest() -> None:
    policy: EndOfTurn = AdaptiveEndOfTurn()
    yes = policy.silence_ms("yes_no", "oui")
    description = policy.silence_ms("free", "le lampadaire est cassé")
    address = policy.silence_ms("place", "douze boulevard national")
    number = policy.silence_ms("number", "zéro six douze")
    assert yes < description < address < number


def test_a_sentence_stopping_on_a_word_that_cannot_end_it_gets_more_time() -> None:
    policy = AdaptiveEndOfTurn()
    assert policy.silence_ms("place", "au coin de la rue de") > policy.silence_ms("place", "au coin de la rue")
    assert policy.silence_ms("free", "il y a un trou et") > policy.silence_ms("free", "il y a un trou")
    assert policy.silence_ms("free", "c'est l'") > policy.silence_ms("free", "")


def test_a_long_answer_to_a_yes_no_question_is_not_cut_like_a_yes() -> None:
    policy = AdaptiveEndOfTurn()
    assert policy.silence_ms("yes_no", "non pas du tout il faut dire que") > policy.silence_ms("yes_no", "non")


def test_the_fixed_policy_ignores_everything() -> None:
    assert {FixedEndOfTurn(800).silence_ms(kind, "et") for kind in ("yes_no", "number", "free")} == {800}


def test_a_closed_question_the_dialogue_has_its_answer_to_ends_sooner_but_a_description_does_not() -> None:
    policy = AdaptiveEndOfTurn()
    for kind in ("yes_no", "number", "place"):
        shorter = policy.answered_silence_ms(kind)
        assert shorter is not None and shorter < policy.silence_ms(kind, "douze rue de rome")
    assert policy.answered_silence_ms("free") is None  # a caller goes on describing after naming the problem
    assert FixedEndOfTurn(800).answered_silence_ms("number") is None
