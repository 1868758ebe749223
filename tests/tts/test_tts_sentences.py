"""How text is cut into the pieces the voice speaks one at a time."""

from tts import speech_pieces, split_clauses, split_sentences


def test_sentence_splitting_french() -> None:
    text = (
        "Bonjour ! Vous êtes en ligne avec l'assistant automatique de la Métropole.\n"
        "M. Dupont vous rappellera ; merci. Quel est le problème ?"
    )
    assert split_sentences(text) == [
        "Bonjour !",
        "Vous êtes en ligne avec l'assistant automatique de la Métropole.",
        "M. Dupont vous rappellera ; merci.",
        "Quel est le problème ?",
    ]
    assert split_sentences("Il fait 3.5 degrés") == ["Il fait 3.5 degrés"]
    assert split_sentences("") == []


def test_clauses() -> None:
    assert split_clauses("Le 3,5 rue Paradis, au fond : la benne ; vite") == [
        "Le 3,5 rue Paradis,",
        "au fond :",
        "la benne ;",
        "vite",
    ]
    # Conjunctions are not cut: "et" joins words as often as clauses.
    assert split_clauses("Le banc et la fontaine sont cassés") == ["Le banc et la fontaine sont cassés"]


def test_first_piece_is_short() -> None:
    text = (
        "Bonjour, vous êtes en relation avec le service de la propreté de la ville. Dites-moi où se trouve le problème."
    )
    assert speech_pieces(text) == [
        "Bonjour,",
        "vous êtes en relation avec le service de la propreté de la ville.",
        "Dites-moi où se trouve le problème.",
    ]


def test_later_sentences_are_cut_only_when_long() -> None:
    short_first = "Merci. Pour parler à un conseiller, dites-le."
    assert speech_pieces(short_first) == ["Merci.", "Pour parler à un conseiller, dites-le."]
    long_later = (
        "Merci. Le camion passera demain matin, entre huit heures et midi, "
        "puis une équipe vérifiera le trottoir, la chaussée et les grilles."
    )
    # Clauses packed back together up to the limit (60 characters).
    assert speech_pieces(long_later) == [
        "Merci.",
        "Le camion passera demain matin, entre huit heures et midi,",
        "puis une équipe vérifiera le trottoir,",
        "la chaussée et les grilles.",
    ]
    assert all(len(piece) <= 60 for piece in speech_pieces(long_later))


def test_a_long_clause_stays_whole() -> None:
    clause = "Un agent de la voirie viendra constater le nid de poule signalé dans votre rue demain."
    assert speech_pieces(clause) == [clause]


def test_nothing_to_say() -> None:
    assert speech_pieces("  \n ") == []
