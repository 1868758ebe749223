"""Generated NLU training lines for the Rasa project.

`python -m dialogue.corpus` writes dialogue/data/nlu_generated.yml; `python -m dialogue.corpus --check` exits 1 when
the committed file is not what the generator writes.

The hand-written examples (data/nlu.yml) are few; callers say the same things in many more shapes. Lines here are
composed from sentence shapes written for each intent, filled with the taxonomy's categories and synonyms and the
gazetteer's places (both read at generation time, so the corpus follows them), street names, numbers said as digits
or French words, hesitations, and the slips a recogniser makes (lower case without punctuation for half the lines,
homophones, a dropped "ne", a lost final letter, a split word). Seeded: the same files give the same corpus.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dialogue.eval.leaks import evaluation_words
from dialogue.knowledge import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY, OTHER_CATEGORY, fold

DIALOGUE_DIR = Path(__file__).resolve().parent
OUTPUT_FILE = DIALOGUE_DIR / "data" / "nlu_generated.yml"
HAND_WRITTEN_FILE = DIALOGUE_DIR / "data" / "nlu.yml"
SEED = "metropole-corpus-1"
MAX_EXAMPLES = 3500
# Each intent's share of the generated lines, in the domain's order: the report and the answers carry the
# vocabulary, out_of_scope the look-alikes, the short intents their phrasings.
SHARES: dict[str, float] = {
    "report_problem": 0.195,
    "inform": 0.195,
    "correct": 0.075,
    "affirm": 0.05,
    "deny": 0.05,
    "dont_know": 0.035,
    "greet": 0.03,
    "goodbye": 0.035,
    "thank": 0.03,
    "repeat": 0.035,
    "request_human": 0.06,
    "emergency": 0.075,
    "out_of_scope": 0.135,
}
# Generated lines in all. DIET's training time grows with the lines and its transformer layers: with two layers,
# 1,340 lines took 12 minutes on two cores; without (dialogue/config.yml), 3,400 take about two.
TOTAL = 3400
TARGETS: dict[str, int] = {intent: round(TOTAL * share) for intent, share in SHARES.items()}
# Rasa reads these as entity markup ("[text](entity)", "{...}").
FORBIDDEN_CHARACTERS = re.compile(r"[\[\](){}]")

Slot = Callable[[random.Random], str]

# ---------------------------------------------------------------------------------------------------------------
# Words: accents back on the folded words of the YAML files, genders for articles, street names, numbers.
# ---------------------------------------------------------------------------------------------------------------

# The taxonomy and gazetteer are folded (no accents); callers' lines, as the recogniser writes them, have accents.
ACCENTS: dict[str, str] = {
    word.replace("é", "e")
    .replace("è", "e")
    .replace("ê", "e")
    .replace("â", "a")
    .replace("î", "i")
    .replace("ô", "o")
    .replace("û", "u")
    .replace("ç", "c")
    .replace("ë", "e"): word
    for word in """chaussée défoncée défoncé abîmée enrobé pavé affaissé affaissement fissurée ornière égout descellée
    revêtement cassée trouée déformée âne état réverbère éclairage lumière candélabre éteint mât éclaire éclairent
    obscurité dépôt déchet détritus réfrigérateur canapé saleté déjection été ramassé sélectif déborde décharge
    propreté nettoyé tagué taguée taggé graffé collée barbouillé écrit écrite arrêt barrière balançoire brisée
    jardinière vélo clôture boîte élagage élaguer chêne taillé végétation piéton piétons clouté cédez routière
    évacuation inondé inondée bouchée épave garée handicapé crevés crevé véhicule abandonné abandonnée brûlée guêpe
    goéland électrique électriques téléphonique téléphoniques école collège lycée église marché métro supermarché
    hôpital crèche cimetière résidence cité bibliothèque médiathèque musée barnabé jérôme château périer fourragère
    barthélemy éoures andré millière célony renardière lavéra jonquières ferrières étang prophète vélodrome bonne
    mère gémenos belcodène cabriès éguilles ensuès eyguières lançon réparade pélissanne sénas septèmes vernègues
    estève rhône""".split()
}
# Words the taxonomy uses as participles, not as the nouns they also spell ("gare sur": parked, not the station).
PARTICIPLES: dict[str, str] = {"gare": "garé", "casse": "cassé", "allume": "allumé", "tague": "tagué"}
ELIDED = {"l", "d", "s", "j", "n", "qu", "m", "c"}
# Place words (gazetteer's landmark_words) that take "la"; the others take "le".
FEMININE_PLACES = {
    "ecole", "mairie", "gare", "eglise", "piscine", "place", "station", "poste", "pharmacie", "boulangerie",
    "creche", "plage", "residence", "cite", "bibliotheque", "mediatheque", "caserne", "capitainerie",
    "aire de jeux", "cathedrale", "fontaine", "plages", "terrasses", "calanque", "prefecture", "pointe",
    "zone industrielle", "zone d activites", "passerelle", "halle", "chapelle", "salle des fetes", "faculte", "fac",
    "maison de retraite", "tour de l horloge",
}  # fmt: skip
PLURAL_PLACES = {"jeux d enfants", "plages", "terrasses"}
PLACE_SPELLINGS = {"rond point": "rond-point", "jeux d enfants": "jeux pour enfants"}
# Place words that need a complement to make sense on their own ("devant le quartier").
VAGUE_PLACES = {"quartier", "arret", "station", "carrefour", "cite", "residence"}
PLACE_COMPLEMENTS = {
    "ecole": ["Jules Ferry", "Victor Hugo", "Marcel Pagnol", "des Lilas", "maternelle", "primaire"],
    "college": ["Jean Moulin", "Pagnol", "Edmond Rostand", "du quartier"],
    "lycee": ["Thiers", "Saint-Charles", "Marseilleveyre", "Zola"],
    "arret": ["de bus", "du tram", "du 83", "du 21"],
    "station": ["de métro", "service"],
    "cite": ["des Lauriers", "de la Castellane", "Font-Vert"],
    "residence": ["des Pins", "les Oliviers", "le Parc"],
    "carrefour": ["des Quatre Chemins", "de la Pomme"],
    "stade": ["municipal", "Delort"],
    "parc": ["des sports", "municipal"],
    "marche": ["aux puces", "couvert"],
}
# Landmarks whose gazetteer name has no article but is said with one ("près du Vieux-Port").
LANDMARK_ARTICLES: dict[str, str] = {
    "Vieux-Port": "le", "Canebière": "la", "Mucem": "le", "Panier": "le", "Joliette": "la", "Frioul": "le",
    "Prado": "le", "Hôtel de Ville": "l'", "Préfecture": "la", "Estaque": "l'", "Pointe Rouge": "la",
    "Cours Julien": "le", "Cours Mirabeau": "le", "Jas de Bouffan": "le", "Plan d'Aou": "le", "Mont Faron": "le",
    "Miroir aux oiseaux": "le", "Plateau de l'Arbois": "le", "Calanque de Port-Miou": "la",
    "Vallon des Auffes": "le", "Grand Littoral": "", "Parc Chanot": "le", "Terrasses du Port": "les",
    "Noailles": "", "Castellane": "", "Malmousque": "", "Saint-Just": "", "Notre-Dame de la Garde": "",
}  # fmt: skip

STREET_TYPES_FEMININE = ["rue", "rue", "rue", "rue", "avenue", "avenue", "avenue", "impasse", "traverse", "allée",
                         "route", "montée", "place"]  # fmt: skip
STREET_TYPES_MASCULINE = ["boulevard", "boulevard", "boulevard", "chemin", "chemin", "cours", "quai"]
# Real street names of the Métropole (Marseille, Aix, Aubagne...) and the names every town has.
STREET_NAMES = [
    "Paradis", "de Rome", "Saint-Ferréol", "de la République", "Breteuil", "Consolat", "Sakakini", "de Lodi",
    "Grignan", "Sainte", "Chave", "Michelet", "Baille", "National", "du Prado", "de la Capelette", "des Caillols",
    "de Mazargues", "Rabatau", "Longchamp", "Lieutaud", "d'Aubagne", "Thubaneau", "de la Joliette", "de Saint-Just",
    "de la Timone", "de Toulon", "de la Blancarde", "du Merlan", "des Chartreux", "de Montolivet", "Jarret",
    "de Château-Gombert", "de la Rose", "du Roucas-Blanc", "Kennedy", "des Goudes",
    "Rodocanachi", "Périer", "Cantini", "de Sébastopol", "de la Madeleine", "des Dames", "de Strasbourg",
    "Roger Salengro", "de Lyon", "Vauban", "Puget", "Notre-Dame", "Estelle", "Curiol", "Ferrari", "Horace Bertin",
    "Jobin", "Bénédit", "Saint-Pierre", "des Trois-Lucs", "de la Valbarelle", "Mireille Lauze",
    "Victor Hugo", "Gambetta", "Pasteur", "de la Liberté", "Jules Ferry", "de la Gare", "du Stade", "des Écoles",
    "Émile Zola", "des Pins",
    "des Oliviers", "de la Mer", "de l'Église", "du Moulin", "Frédéric Mistral", "Marcel Pagnol",
    "Pierre Brossolette", "de la Sainte-Victoire", "Gabriel Péri", "Paul Cézanne", "des Lilas", "des Cigales",
    "de Provence", "de la Paix", "Salvador Allende", "Aristide Briand", "du Maréchal Foch", "des Platanes",
    "de la Fontaine", "des Tilleuls", "du Château", "des Vignes", "Pierre Semard", "Joliot-Curie", "Jean Monnet",
    "du Port", "Mirabeau", "Sextius", "des Belges", "Cardinale", "Thiers", "Espariat", "de la Treille",
    "des Accates", "de la Bourdonnière", "Lazare Carnot", "de Verdun", "Fernand Léger", "Albert Camus",
]  # fmt: skip

# Number words by value (a plain list would read, folded, as a counting run of words).
UNITS = [word for _, word in sorted({
    0: "zéro", 1: "un", 2: "deux", 3: "trois", 4: "quatre", 5: "cinq", 6: "six", 7: "sept", 8: "huit", 9: "neuf",
    10: "dix", 11: "onze", 12: "douze", 13: "treize", 14: "quatorze", 15: "quinze", 16: "seize",
}.items())]  # fmt: skip
TENS = ["", "", "vingt", "trente", "quarante", "cinquante", "soixante"]
ORDINALS = ["premier", "deuxième", "troisième", "quatrième", "cinquième", "sixième", "septième", "huitième",
            "neuvième", "dixième", "onzième", "douzième", "treizième", "quatorzième", "quinzième",
            "seizième"]  # fmt: skip


def french_number(n: int) -> str:
    """0..999 in words, hyphenated as written: "soixante et onze", "quatre-vingt-dix-sept", "deux cent trois"."""
    if n < 0 or n > 999:
        raise ValueError(f"{n} is out of range")
    if n <= 16:
        return UNITS[n]
    if n < 20:
        return f"dix-{UNITS[n - 10]}"
    if n < 70:
        tens, unit = TENS[n // 10], n % 10
        return tens if unit == 0 else f"{tens} et un" if unit == 1 else f"{tens}-{UNITS[unit]}"
    if n < 80:
        return "soixante et onze" if n == 71 else f"soixante-{french_number(n - 60)}"
    if n < 100:
        return "quatre-vingts" if n == 80 else f"quatre-vingt-{french_number(n - 80)}"
    hundreds, rest = divmod(n, 100)
    head = "cent" if hundreds == 1 else f"{UNITS[hundreds]} cent"
    if rest == 0:
        return head if hundreds == 1 else f"{head}s"
    return f"{head} {french_number(rest)}"


def said_number(rng: random.Random, n: int) -> str:
    """A number as the recogniser may write it: digits, or words with or without their hyphens."""
    if rng.random() < 0.6:
        return str(n)
    words = french_number(n)
    return words.replace("-", " ") if rng.random() < 0.3 else words


def street_number(rng: random.Random) -> int:
    """House numbers: mostly small, often in the seventies to nineties (the compound French words), some above 100."""
    roll = rng.random()
    if roll < 0.55:
        return rng.randint(1, 69)
    if roll < 0.85:
        return rng.randint(70, 99)
    return rng.randint(100, 260)


def phone_number(rng: random.Random) -> str:
    """A French number said in pairs, in digits or in words, sometimes with the international prefix."""
    pairs = [rng.randint(0, 99) for _ in range(4)]
    first = rng.choice(["06", "06", "07", "04", "09"])
    if rng.random() < 0.35:
        return " ".join([first, *(f"{p:02d}" for p in pairs)])
    hyphens = rng.random() < 0.7
    separator = ", " if rng.random() < 0.3 else " "

    def pair(p: int) -> str:
        words = f"zéro {UNITS[p]}" if p < 10 else french_number(p)
        return words if hyphens else words.replace("-", " ")

    head = f"zéro {UNITS[int(first[1])]}"
    return separator.join([head, *(pair(p) for p in pairs)])


def restore(folded: str, participles: bool = False) -> str:
    """Accents and apostrophes back on a folded phrase: "plaque d egout descellee" -> "plaque d'égout descellée"."""
    words = folded.split()
    out: list[str] = []
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        if participles and word in PARTICIPLES:
            word = PARTICIPLES[word]
        elif word == "a" and following not in ("gare", "ete"):
            word = "à"
        else:
            word = ACCENTS.get(word, word)
        if out and out[-1].endswith("'"):
            out[-1] += word
        else:
            out.append(f"{word}'" if word in ELIDED and following else word)
    return " ".join(out)


def title(name: str) -> str:
    """A place name as written: "la belle de mai" -> "la Belle de Mai", "saint barnabé" -> "Saint-Barnabé"."""
    small = {"de", "du", "des", "la", "le", "les", "et", "sur", "en", "aux", "au", "lès", "lez"}
    words = name.split()
    out: list[str] = []
    for index, word in enumerate(words):
        if "'" in word:
            head, _, tail = word.partition("'")
            word = f"{head}'{tail[:1].upper()}{tail[1:]}"
        elif word not in small or index == len(words) - 1:
            word = word[:1].upper() + word[1:]
        if out and out[-1] in ("Saint", "Sainte"):
            out[-1] = f"{out[-1]}-{word}"
        else:
            out.append(word)
    if out and out[0] in ("La", "Le", "Les") and len(out) > 1:
        out[0] = out[0].lower()
    return " ".join(out)


def starts_with_vowel(text: str) -> bool:
    folded = fold(text)
    return folded[:1] in tuple("aeiouy") or (folded.startswith("h") and not folded.startswith("hai"))


def of(phrase: str) -> str:
    """ "de" joined to a noun phrase: "du Merlan", "des Caillols", "de la Capelette", "d'Aubagne"."""
    lowered = phrase.lower()
    if lowered.startswith("le "):
        return f"du {phrase[3:]}"
    if lowered.startswith("les "):
        return f"des {phrase[4:]}"
    if starts_with_vowel(phrase):
        return f"d'{phrase}"
    return f"de {phrase}"


def at(phrase: str) -> str:
    """ "à" joined to a noun phrase: "au Rove", "aux Pennes-Mirabeau", "à la Ciotat", "à Aubagne"."""
    lowered = phrase.lower()
    if lowered.startswith("le "):
        return f"au {phrase[3:]}"
    if lowered.startswith("les "):
        return f"aux {phrase[4:]}"
    return f"à {phrase}"


def with_article(word: str, surface: str) -> str:
    """ "l'école", "la mairie", "le stade", "les jeux d'enfants" for a place word (folded `word`)."""
    if word in PLURAL_PLACES:
        return f"les {surface}"
    if starts_with_vowel(surface):
        return f"l'{surface}"
    return f"{'la' if word in FEMININE_PLACES else 'le'} {surface}"


# ---------------------------------------------------------------------------------------------------------------
# The project's knowledge, as phrases: categories (taxonomy) and places (gazetteer).
# ---------------------------------------------------------------------------------------------------------------

# Words that make a taxonomy synonym a predicate ("s allume plus", "gare sur"), not a noun the frames can carry.
PREDICATE_WORDS = frozenset(
    """est sont se s ont pas jamais ramasse reste restent eclaire eclairent allume clignote clignotent eteint
    deborde sale tague taguee tagge tagger graffe barbouille affaisse fissuree garee garent garer gare stationne
    stationnee stationnent bloque inonde inondee bouchee refoule elaguer passe dans plus sous defonce peint ecrit
    monte qui tondu taille collee""".split()
)


# Words a noun phrase does not start with ("sur le passage pieton", "devant mon garage": the taxonomy's contexts).
NOT_NOUN_STARTS = frozenset(
    {"de", "du", "des", "la", "le", "les", "l", "un", "une", "sur", "a", "au", "aux", "en", "sous", "devant", "par"}
)
# Synonyms that say something else in "un problème de ...": "un problème d'inscription" is the school.
UNCLEAR_NOUNS = frozenset({"inscription", "pluvial"})


@dataclass(frozen=True)
class CategoryPhrases:
    code: str
    examples: tuple[str, ...]  # the taxonomy's own examples, already callers' words
    nouns: tuple[str, ...]  # noun-like synonyms with their accents back ("nid de poule", "dépôt sauvage")


@dataclass(frozen=True)
class Places:
    communes: tuple[str, ...]  # official names and the short names callers use ("Aix", "les Pennes")
    quarters: tuple[tuple[str, str], ...]  # (commune, quarter as written)
    landmarks: tuple[str, ...]  # with their article when they take one ("le Vieux-Port")
    place_words: tuple[tuple[str, str], ...]  # (folded landmark word, written form with its article)


def read_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


def read_categories(path: Path) -> tuple[CategoryPhrases, ...]:
    categories = []
    for entry in read_yaml(path)["categories"]:
        synonyms = [fold(str(s)) for s in entry.get("synonyms") or ()]
        nouns = [
            s
            for s in synonyms
            if s
            and not PREDICATE_WORDS & set(s.split())
            and s.split()[0] not in NOT_NOUN_STARTS
            and s not in UNCLEAR_NOUNS
        ]
        categories.append(
            CategoryPhrases(
                code=str(entry["code"]),
                examples=tuple(str(e).lower() for e in entry.get("examples") or ()),
                nouns=tuple(dict.fromkeys(restore(n, participles=True) for n in nouns)),
            )
        )
    return tuple(categories)


def read_places(path: Path) -> Places:
    data = read_yaml(path)
    communes: list[str] = []
    for name, aliases in data["communes"].items():
        communes.append(str(name))
        # Short names are how callers say the long ones ("aux Pennes", "à Salon"); same-length ones are spellings.
        communes += [
            title(restore(a)) for a in aliases or () if len(fold(str(a)).split()) < len(fold(str(name)).split())
        ]
    quarters = [
        (str(commune), title(restore(q)))
        for commune, names in (data.get("quarters") or {}).items()
        for q in dict.fromkeys(fold(str(n)) for n in names or ())
    ]
    landmarks = []
    for name in data.get("landmarks") or {}:
        written = str(name)
        first = fold(written).split()[0]
        if first in ("la", "le", "les"):
            landmarks.append(written[0].lower() + written[1:])
            continue
        article = LANDMARK_ARTICLES.get(written)
        if article is None:
            article = (
                "les"
                if first in PLURAL_PLACES
                else "l'"
                if starts_with_vowel(written)
                else "la"
                if first in FEMININE_PLACES
                else "le"
            )
        landmarks.append(f"{article}{written}" if article.endswith("'") else f"{article} {written}".strip())
    words = [fold(str(w)) for w in data.get("landmark_words") or ()]
    place_words = [(w, with_article(w, PLACE_SPELLINGS.get(w, restore(w)))) for w in words]
    return Places(tuple(dict.fromkeys(communes)), tuple(quarters), tuple(landmarks), tuple(place_words))


# ---------------------------------------------------------------------------------------------------------------
# A tiny template language: "{a|b|}" picks one alternative (possibly empty), "{name}" fills a named slot; slots
# may return templates in turn.
# ---------------------------------------------------------------------------------------------------------------

_FIELD = re.compile(r"\{([^{}]*)\}")
_MAX_PASSES = 16


class Grammar:
    def __init__(self) -> None:
        self.slots: dict[str, Slot] = {}

    def add(self, name: str, choices: Sequence[str] | Slot) -> None:
        if callable(choices):
            self.slots[name] = choices
        else:
            items = list(choices)
            self.slots[name] = lambda rng: rng.choice(items)

    def expand(self, template: str, rng: random.Random) -> str:
        text = template
        for _ in range(_MAX_PASSES):
            if not _FIELD.search(text):
                return tidy(text)
            text = _FIELD.sub(lambda match: self._fill(match.group(1), rng), text)
        raise ValueError(f"template does not resolve: {template}")

    def _fill(self, body: str, rng: random.Random) -> str:
        if "|" in body:
            return rng.choice(body.split("|"))
        return self.slots[body](rng)


# "de Aubagne" -> "d'Aubagne", "que il" -> "qu'il"; not before an "h", nor "le un", "le onze" (numbers).
_ELISION = re.compile(r"\b(je|ne|de|me|se|te|que) (?=[aeiouyéèêàâîôAEIOUYÉÈÊÂÎÔ])")
_ARTICLE_ELISION = re.compile(r"\b(le|la) (?!(?:un|une|onze|onzième|oui|ouais)\b)(?=[aeiouyéèêàâîôAEIOUYÉÈÊÂÎÔ])")
_CONTRACTION = re.compile(r"\b(à|de) (le|les|Le|Les) ")
_CONTRACTED = {"à le": "au", "à les": "aux", "de le": "du", "de les": "des"}


def tidy(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(r"\s+([,.])", r"\1", text)
    text = re.sub(r",(\s*,)+", ",", text)
    text = _CONTRACTION.sub(lambda m: f"{_CONTRACTED[f'{m.group(1)} {m.group(2).lower()}']} ", text)
    text = _ELISION.sub(lambda m: f"{m.group(1)[:-1]}'", text)
    text = _ARTICLE_ELISION.sub(lambda m: f"{m.group(1)[:-1]}'", text).replace("' ", "'")
    return text.strip(" ,")


# ---------------------------------------------------------------------------------------------------------------
# What callers say about each category, in their words (the taxonomy's synonyms add the rest).
# ---------------------------------------------------------------------------------------------------------------

PROBLEMS: dict[str, list[str]] = {
    "chaussee_trottoirs": [
        "il y a un {énorme |grand |}{nid de poule|trou} {sur la route|dans le bitume|en pleine rue}",
        "la route est {complètement |toute |}{défoncée|abîmée|pleine de trous|en très mauvais état}",
        "le trottoir est {tout |entièrement |}{défoncé|cassé|soulevé|fissuré}",
        "la chaussée {s'est affaissée|s'est creusée|est fissurée de partout|a des grosses fissures}",
        "le goudron {est parti|part en morceaux|s'est décollé} {sur toute la longueur|devant les maisons|}",
        "il manque des pavés {sur la place|dans la descente|devant l'église}",
        "une dalle du trottoir {est cassée|bouge quand on marche dessus|est descellée}",
        "la bordure du trottoir est {cassée|arrachée|en morceaux}",
        "y a une bosse énorme sur la route, les voitures touchent",
        "y a des gravillons partout sur la chaussée, les motos glissent",
        "le ralentisseur est {tout cassé|à moitié arraché}",
        "la plaque d'égout est descellée, elle claque quand les voitures passent",
        "y a une crevasse au milieu de la route",
        "le trou {n'a toujours pas été rebouché|a encore grandi avec la pluie}",
        "la route elle est toute esquintée",
        "y a un trou de fada {sur la route|dans la rue}",
        "les nids de poule se sont multipliés {avec la pluie|cet hiver}",
        "y a des ornières partout dans le chemin",
    ],
    "eclairage_public": [
        "le lampadaire {est éteint|ne marche plus|clignote|ne s'allume plus|reste allumé en plein jour}",
        "les réverbères {sont éteints|ne marchent plus|clignotent du soir au matin|restent allumés en plein jour}",
        "{toute la rue|tout le quartier|le parking|l'impasse|le passage souterrain} est dans le noir",
        "il n'y a plus de lumière {dans la rue|sur le parking|dans le passage|sous le pont}",
        "l'ampoule du lampadaire est {grillée|cassée}",
        "le candélabre {penche|a été embouti par un camion|est à moitié couché}",
        "l'éclairage public {ne fonctionne plus|est en panne|est coupé}",
        "le poteau d'éclairage est tout tordu",
        "la lumière de la rue {clignote|s'éteint et se rallume} sans arrêt",
        "le soir on y voit plus rien, plus aucun lampadaire n'est allumé",
        "on est dans le noir complet, degun n'est venu changer l'ampoule",
        "un réverbère sur deux est éteint",
        "le lampadaire il fait des flashs jusqu'au matin",
    ],
    "proprete": [
        "il y a un dépôt sauvage {le long du trottoir|au coin de la rue|derrière le gymnase|à côté des conteneurs}",
        "quelqu'un a {jeté|déposé|abandonné|laissé} {un matelas|un frigo|une machine à laver|un vieux canapé"
        "|des gravats|des cartons|des pneus|une armoire} {sur le trottoir|devant l'immeuble|au bord du chemin"
        "|dans le fossé}",
        "les poubelles {n'ont pas été ramassées|débordent|sont pleines à ras bord}",
        "les conteneurs {débordent|sont renversés|sont pleins}",
        "il y a des {déchets|ordures|détritus|sacs poubelle} un peu partout {sur la place|dans la rue|près du canal}",
        "la benne {déborde|n'a pas été vidée}",
        "y a des crottes de chien partout {sur le trottoir|devant l'école|dans le square}",
        "ça sent l'urine {dans le passage|sous le pont|dans l'escalier de la gare}",
        "y a des seringues {par terre|dans le bac à sable|au pied de l'escalier}",
        "y a du verre cassé {un peu partout|devant l'école|dans le parc}",
        "la rue n'est jamais nettoyée",
        "personne ne passe balayer {la rue|après le marché}",
        "la colonne à verre déborde",
        "les encombrants {traînent|sont là} sur le trottoir",
        "c'est plein de bordilles partout",
        "y a des estrasses partout sur le trottoir",
        "quelqu'un a déchargé une benne de gravats dans le chemin",
        "un tas de déchets verts a été jeté sur le bas-côté",
    ],
    "tags_graffitis": [
        "il y a des tags {sur le mur|sur la façade|sur la porte|sur le pont|sur l'abribus|partout}",
        "{des jeunes|ils} ont {tagué|bombé|barbouillé} {le mur de l'école|la façade de la mairie|le transformateur"
        "|les volets des commerces}",
        "quelqu'un a {tagué|bombé} {le mur de la crèche|la porte de l'église|le monument aux morts}",
        "des graffitis {énormes|tout frais|obscènes} sur {le mur|la façade|le pont}",
        "il y a des insultes écrites sur le mur",
        "des affiches collées sur {chaque poteau|les murs|les vitrines vides}",
        "de l'affichage sauvage {sur les murs|partout}",
        "un grand graff sur le mur du stade",
        "le mur de la médiathèque est tout tagué",
        "ils ont écrit des horreurs au marqueur sur le mur",
    ],
    "mobilier_urbain": [
        "le banc {est cassé|a été arraché|n'a plus de planches|est tout tordu|est tout esquinté}",
        "l'abribus {a la vitre cassée|a été vandalisé|n'a plus de vitre}",
        "un potelet {est arraché|est renversé|a été plié}",
        "la barrière {est tordue|est tombée|est arrachée}",
        "la rambarde {ne tient plus|est descellée|bouge}",
        "la fontaine {ne marche plus|est cassée}",
        "le toboggan {est cassé|est fendu}",
        "la balançoire a une chaîne cassée",
        "la corbeille {est arrachée|est cassée|est partie}",
        "les toilettes publiques sont {hors service|fermées depuis des semaines}",
        "l'horodateur {est en panne|ne prend plus la carte}",
        "le grillage {est arraché|est troué} {autour du terrain|du city stade}",
        "les arceaux à vélo sont arrachés",
        "la main courante de l'escalier est cassée",
        "la jardinière est renversée",
        "la table de pique-nique est cassée",
        "la borne {est cassée|reste baissée|est couchée}",
        "le panneau d'affichage est cassé",
        "les bancs sont tous cassés {au jardin|sur la place}",
    ],
    "espaces_verts_arbres": [
        "une {grande |énorme |}branche {s'est détachée|s'est cassée|a cassé net} {et bloque le trottoir"
        "|au-dessus de la route|dans le parc|et barre le chemin}",
        "une branche est par terre {en travers du trottoir|au milieu de la route|sur le chemin}",
        "un arbre {est tombé|menace de tomber|penche fort} {sur la route|sur le trottoir|}",
        "les racines {soulèvent|ont soulevé} le trottoir",
        "la haie {déborde sur le trottoir|n'est pas taillée}",
        "l'herbe est {trop haute|haute d'un mètre} {dans le parc|sur le rond-point}",
        "les pelouses ne sont jamais tondues",
        "le platane {perd ses branches|est malade|est creux}",
        "il y a des ronces {qui envahissent le chemin|partout sur le trottoir}",
        "la souche dépasse au milieu du trottoir",
        "les pins {sont secs|penchent au-dessus de la route}",
        "un palmier {est mort|penche|perd ses palmes}",
        "les buissons cachent la vue au carrefour",
        "il faudrait élaguer les arbres, les branches touchent les fils",
        "la végétation envahit le trottoir",
        "les mauvaises herbes ont tout envahi",
        "un tronc est resté en travers du bas-côté",
        "un olivier a été arraché",
    ],
    "signalisation": [
        "le feu {rouge|tricolore} {est hors service|ne marche plus|reste au rouge|clignote orange}",
        "les feux {ne marchent plus|sont éteints} au carrefour",
        "le panneau {stop|sens interdit|de limitation de vitesse|cédez le passage} {s'est fait arracher"
        "|est tombé|est tordu|a disparu}",
        "le passage piéton {s'est effacé|est presque invisible|a presque disparu}",
        "le marquage au sol {a disparu|est effacé}",
        "on ne voit plus la ligne blanche",
        "le feu pour les piétons {ne passe jamais au vert|est cassé}",
        "le bonhomme vert ne marche plus",
        "un panneau {est caché par les branches|est orienté à l'envers}",
        "le miroir {est cassé|est tordu|a été arraché}",
        "les bandes blanches sont effacées",
    ],
    "eau_assainissement": [
        "il y a une fuite d'eau {sur la chaussée|dans la rue|sur le trottoir}",
        "de l'eau {sort|coule} de la chaussée {depuis ce matin|sans arrêt|}",
        "la bouche d'égout {est bouchée|déborde|refoule}",
        "le caniveau est bouché",
        "la grille d'égout {est obstruée|est pleine de feuilles|est cassée|a été arrachée}",
        "ça sent l'égout {dans toute la rue|sur la place}",
        "la rue est inondée {à chaque pluie|depuis l'orage}",
        "il y a une grosse flaque qui reste au carrefour",
        "une canalisation a éclaté, il y a de l'eau partout dans la rue",
        "la borne incendie {perd de l'eau|pisse de partout}",
        "l'avaloir est bouché par les feuilles",
        "un geyser jaillit de la route",
        "le tampon d'égout a sauté",
        "de l'eau stagnante sur le trottoir depuis des jours",
        "la grille d'évacuation est pleine de boue",
    ],
    "stationnement_vehicule": [
        "une voiture est garée sur le trottoir {depuis plusieurs semaines|chaque matin|}",
        "il y a une épave {abandonnée|}",
        "une voiture {brûlée|abandonnée|ventouse} {depuis plusieurs mois|depuis l'été|}",
        "un scooter abandonné {traîne|est attaché au poteau}",
        "un camion {bloque la sortie|est garé devant mon garage|est garé en double file}",
        "les gens se garent {sur le passage piéton|sur la place handicapé|n'importe comment}",
        "une voiture sans immatriculation {pourrit sur place|traîne là}",
        "une caravane est stationnée {sur le parking|sur le bas-côté}",
        "quelqu'un a garé sa voiture devant {le portail|la sortie des pompiers}",
        "une camionnette {bloque le passage|est garée devant l'entrée de l'école}",
        "y a une moto garée sur le trottoir, on peut pas passer avec la poussette",
        "une voiture avec les pneus crevés est garée là depuis des lustres",
    ],
    "nuisibles": [
        "des rats {courent partout|traînent autour des poubelles|sortent des égouts la nuit}",
        "un nid de {guêpes|frelons} {dans l'arbre|sous l'abribus|dans le lampadaire}",
        "des pigeons {morts|partout}",
        "plein de cafards {sortent des grilles|sur le trottoir}",
        "des chenilles processionnaires {sur les pins|dans le pin du square|}",
        "un chat mort {sur le trottoir|au milieu de la route}",
        "un rat mort devant l'école",
        "des moustiques {partout|en plein jour}",
        "les gabians éventrent les sacs poubelles",
        "des souris dans le square",
        "un serpent sur le chemin",
        "des punaises sur les bancs",
    ],
    "autre": [
        "la borne de recharge {est en panne|ne marche plus|est cassée}",
        "la borne électrique pour les voitures ne fonctionne plus",
        "la cabine téléphonique {est cassée|a la vitre brisée}",
        "l'antenne relais {fait un bruit bizarre|penche}",
    ],
}
# Short fragments: the problem in three or four words, as a clipped recogniser line says it.
FRAGMENTS: dict[str, list[str]] = {
    "chaussee_trottoirs": ["trou énorme", "nid de poule", "trottoir défoncé", "route abîmée", "chaussée affaissée"],
    "eclairage_public": ["lampadaire éteint", "réverbère qui clignote", "plus de lumière", "éclairage en panne"],
    "proprete": ["dépôt sauvage", "poubelles pas ramassées", "encombrants sur le trottoir", "déchets partout"],
    "tags_graffitis": ["tags sur le mur", "graffitis partout", "façade taguée"],
    "mobilier_urbain": ["banc cassé", "abribus cassé", "potelet arraché", "barrière tordue"],
    "espaces_verts_arbres": ["branche tombée", "arbre tombé", "haie pas taillée", "racines qui soulèvent tout"],
    "signalisation": ["feu rouge en panne", "panneau arraché", "passage piéton effacé", "feu tricolore en panne"],
    "eau_assainissement": ["fuite d'eau", "égout bouché", "caniveau bouché", "rue inondée"],
    "stationnement_vehicule": ["voiture épave", "voiture mal garée", "véhicule abandonné", "camion en double file"],
    "nuisibles": ["rats partout", "nid de guêpes", "nid de frelons", "pigeons morts"],
    "autre": ["borne de recharge en panne", "cabine téléphonique cassée"],
}
# The thing itself, for "c'est le lampadaire" (an answer) and "c'est pas le banc c'est la barrière" (a correction).
THINGS: dict[str, list[str]] = {
    "chaussee_trottoirs": ["un nid de poule", "un trou", "le trottoir", "la chaussée", "une dalle", "la route"],
    "eclairage_public": ["le lampadaire", "un réverbère", "l'éclairage", "les lampadaires"],
    "proprete": ["un dépôt sauvage", "des encombrants", "les poubelles", "des déchets", "un matelas"],
    "tags_graffitis": ["des tags", "un graffiti", "des graffitis"],
    "mobilier_urbain": ["le banc", "l'abribus", "un potelet", "la barrière", "la fontaine"],
    "espaces_verts_arbres": ["une branche", "un arbre", "la haie", "un platane"],
    "signalisation": ["le feu rouge", "un panneau", "le passage piéton", "le feu tricolore"],
    "eau_assainissement": ["une fuite d'eau", "la bouche d'égout", "le caniveau"],
    "stationnement_vehicule": ["une épave", "une voiture mal garée", "une voiture abandonnée"],
    "nuisibles": ["des rats", "un nid de guêpes", "des frelons"],
    "autre": ["la borne de recharge", "la cabine téléphonique"],
}

# ---------------------------------------------------------------------------------------------------------------
# Sentence shapes, per intent. Slots: see `build_grammar`.
# ---------------------------------------------------------------------------------------------------------------

REPORT_SHAPES = [
    "{opener}{problem} {place}",
    "{opener}{problem}{place_maybe}",
    "{opener}{problem} {place}, {since}",
    "{opener}{problem} {since}{place_maybe}",
    "{opener}je téléphone parce que {problem} {place}",
    "{opener}je {voudrais|veux|voulais} vous signaler que {problem}{place_maybe}",
    "{opener}c'est pour vous dire que {problem} {place}",
    "{opener}je {téléphone|vous contacte} pour vous dire que {problem}{place_maybe}",
    "{opener}{place}, {problem}",
    "{opener}alors voilà, {problem} {place} et {ça fait|c'est comme ça depuis} {duration} et personne ne {vient"
    "|fait rien|bouge}",
    "{opener}{problem} {place} et en plus {problem_again}",
    "{opener}{problem}, {problem_again}, {place}",
    "est-ce que vous pourriez {envoyer un agent|faire quelque chose|passer voir}, {problem} {place} ?",
    "c'est bien ici pour {signaler|prévenir} que {problem} ?",
    "qui s'occupe de ça, {problem} {place} ?",
    "vous êtes au courant que {problem} {place} ?",
    "quand est-ce que vous allez venir, {problem} {since} ?",
    "{bonjour madame|bonjour mademoiselle|oui bonjour monsieur}, pardon de vous déranger, {problem} {place}",
    "je marche avec une canne et {problem}{place_maybe}, je peux plus passer",
    "c'est ma {voisine|fille|belle-fille} qui m'a dit de vous appeler, {problem} {place}",
    "voyez-vous, {problem} {place}, à mon âge on a peur de tomber",
    "c'est la {troisième|quatrième|cinquième|dixième} fois que je téléphone, {problem} {place}",
    "c'est pas possible, {problem} {since} et {personne|degun} ne fait rien",
    "j'en ai ras le bol, {problem}{place_maybe}",
    "vous allez faire quelque chose oui ou non, {problem} {place}",
    "oh peuchère, {problem} {place}",
    "{problem}{place_maybe}, ça m'escagasse",
    "{problem} {place}, c'est un truc de fada",
    "{problem} et degun ne s'en occupe{place_maybe}",
    "le minot a failli se faire mal, {problem} {place}",
    "oh fan de chichourle, alors {problem}{place_maybe}",
    "vé, {problem} {place}",
    "{problem} {place}, c'est dangereux pour {people}",
    "{problem}, quelqu'un va finir par {se faire mal|tomber}",
    "{fragment}, {place}",
    "{fragment} {place}",
    "{opener}{fragment} {place}, {since}",
]
# Frames for the taxonomy's noun-like synonyms and examples: these follow whatever the taxonomy says.
SYNONYM_SHAPES = [
    "{opener}je {souhaiterais|tenais à} vous signaler un {souci|problème} {of_noun}{place_maybe}",
    "{opener}c'est pour un {problème|souci} {of_noun} {place}",
    "{opener}je vous contacte pour un problème {of_noun}{place_maybe}",
    "{opener}problème {of_noun} {place}",
    "{noun} {place}, {c'est une catastrophe|c'est n'importe quoi|c'est une honte|c'est pas normal}",
    "{opener}y a un souci, {noun} {place}",
]
EXAMPLE_SHAPES = [
    "{opener}{place}, {example}",
    "{opener}{example}",
    "{opener}{example}, {c'est pénible|ça m'escagasse|faudrait venir voir}",
]

INFORM_SHAPES = [
    "{place}",
    "{place}",
    "{place_answer}",
    "{place_answer}",
    "c'est {place}",
    "{hes} c'est {place}",
    "alors c'est {place}",
    "{place} je crois",
    "{place}, {landmark_phrase}",
    "{address}",
    "{address} à {commune}",
    "c'est {address}{, à {commune}|}",
    "{commune}",
    "c'est à {commune}",
    "le numéro c'est le {number}",
    "au {number} je crois, {street}",
    "je connais pas le nom de la rue mais c'est {landmark_phrase}",
    "je sais plus le numéro, c'est {street} {landmark_phrase}",
    "c'est {street} au niveau du {number}",
    "c'est entre le {number} et le {number}",
    "code postal {postcode}",
    "c'est {in_arrondissement}",
    "{phone}",
    "{mon numéro,|notez bien,|alors notez,|voilà mon portable,} {phone}",
    "{phone}, c'est mon {portable|fixe}",
    "c'est un trou {d'à peu près|d'environ|de} {small_number} centimètres",
    "il fait {un mètre|deux mètres|cinquante centimètres|trente centimètres} de {large|long|profond}",
    "{ça fait|ça dure depuis} {duration}",
    "depuis {day}",
    "il y en a {small_number} {d'éteints|de cassés|en tout}",
    "c'est {thing}",
    "{thing}",
    "c'est {thing} {qui pose problème|le souci|}",
    "c'est surtout la nuit",
    "c'est {le deuxième|le troisième|le premier} {après|avant} le carrefour",
    "{thing}, c'est {place}",
    "c'est {tout le trottoir|toute la rue|juste un bout de la rue|sur toute la longueur}",
    "{danger_content}",
    "{danger_content}",
    "{hes} {danger_content}",
    "{danger_content}, {people} {sont obligés de descendre sur la chaussée|font des écarts|peuvent chuter}",
]
# Answers to "is it dangerous?" that carry their content without a yes or a no: negation on either side.
DANGER_CONTENT = [
    "pas dangereux",
    "c'est pas dangereux",
    "c'est pas {vraiment|trop|très} dangereux",
    "pas vraiment dangereux",
    "dangereux, pas vraiment",
    "dangereux je dirais pas",
    "je pense pas que ce soit dangereux",
    "je crois pas que ce soit {grave|dangereux}",
    "je ne pense pas que ce soit dangereux",
    "ça craint rien",
    "ça ne craint rien",
    "ça ne risque pas grand-chose",
    "c'est juste gênant",
    "c'est surtout gênant pour {people}",
    "c'est plus gênant que dangereux",
    "pas spécialement dangereux",
    "y a pas vraiment de risque",
    "c'est dangereux {la nuit surtout|quand il pleut|pour {people}}",
    "c'est dangereux, {people} font des écarts",
    "il y a un risque pour {people}",
    "ça peut être dangereux {la nuit|pour {people}}",
    "dangereux, {ah si quand même, oui|un peu quand même}",
    "c'est très dangereux",
    "quelqu'un pourrait {tomber|se faire mal}",
]

CORRECT_SHAPES = [
    "{no} c'est au {number} pas au {number}",
    "{no} pas au {number}, au {number}",
    "{no} c'est le {number} {bis|ter|}",
    "je me suis trompé{|e}, c'est {at_commune}",
    "{no} c'est {at_commune}, pas {at_commune}",
    "{no} c'est pas {at_commune} c'est {at_commune}",
    "ah pardon j'ai dit {commune} mais c'est {at_commune}",
    "{no} {type_swap}",
    "{type_swap}",
    "{no} c'est {street} pas {street}",
    "{no} c'est pas {street} c'est {street}",
    "attendez, je l'ai mal dit, c'est {place}",
    "{no} vous avez mal {compris|entendu}, c'est {place}",
    "{no} je rectifie, c'est {place}",
    "correction, c'est {place}",
    "erreur de ma part, c'est {place}",
    "{no} le {bon |}numéro, {phone}",
    "{no} j'ai donné un mauvais numéro, le bon {phone}",
    "{no} c'est pas {thing} c'est {thing}",
    "{no} c'est pas vraiment {thing}, c'est plutôt {thing}",
    "je me suis mélangé{|e} les pinceaux, c'est {at_commune}",
    "oh pardon je m'emmêle, c'est {place}",
    "excusez-moi je me suis embrouillé{|e}, c'est {address}",
    "{no} vous avez noté {commune} mais c'est {at_commune}",
    "{no} c'est dans le {ordinal} pas dans le {ordinal}",
    "{no} c'est pas le {number}, c'est le {number}",
    "je reprends, c'est {address} et pas {address}",
    "{no} en fait c'est {place}",
    "{no} attendez, c'est {address}",
    "{no} j'ai dit une bêtise, c'est {place}",
    "{no} en fait c'est pas dangereux",
    "si si en fait c'est dangereux",
]

AFFIRM_HEADS = ["oui", "ouais", "voilà", "exactement", "tout à fait", "c'est ça", "absolument", "bien sûr", "oui oui",
                "ben oui", "bah oui", "c'est exact", "parfaitement", "évidemment", "carrément", "oui madame",
                "oui monsieur", "ouais ouais", "oui c'est bien ça", "c'est bien ça", "oui voilà", "voilà c'est ça",
                "exact", "affirmatif", "oui tout à fait", "ah oui", "eh oui", "oui oui oui", "ouais c'est ça",
                "exactement ça", "oui bien sûr", "bien entendu", "oui c'est juste", "c'est juste", "tout juste",
                "oui volontiers", "d'accord", "ok d'accord"]  # fmt: skip
AFFIRM_TAILS = ["", "", "", "c'est bien ça", "vous avez bien compris", "c'est correct", "allez-y",
                "rappelez-moi", "vous pouvez me rappeler", "sur ce numéro", "c'est dangereux", "c'est bon",
                "pas de problème", "je confirme", "c'est ce que j'ai dit", "c'est bien l'adresse", "ça me va",
                "c'est dangereux {la nuit surtout|pour {people}}", "quelqu'un pourrait {tomber|se faire mal}",
                "vous pouvez me rappeler quand vous voulez", "c'est le bon numéro", "c'est tout bon",
                "{people} risquent de tomber", "ça peut être dangereux", "c'est ce numéro-là"]  # fmt: skip
DENY_HEADS = ["non", "nan", "non non", "pas du tout", "non merci", "ah non", "absolument pas", "surtout pas",
              "pas vraiment", "non pas vraiment", "non pas du tout", "ben non", "bah non", "euh non", "oh non",
              "non non non", "nan nan", "non madame", "non monsieur", "non pas spécialement", "non pas trop",
              "négatif", "non jamais", "pas spécialement", "nan pas du tout", "certainement pas"]  # fmt: skip
DENY_TAILS = ["", "", "", "pas dangereux", "c'est pas dangereux", "ne me rappelez pas", "pas la peine",
              "c'est bon", "ça ira", "j'ai pas besoin d'être rappelé", "c'est juste gênant", "y a pas de danger",
              "c'est pas ça", "c'est pas correct", "pas besoin", "c'est pas urgent", "ça gêne juste un peu",
              "il y a pas de risque", "c'est juste moche", "pas la peine de me rappeler", "c'est pas grave",
              "ça craint rien", "je préfère pas", "merci ça ira", "c'est pas utile"]  # fmt: skip
DENY_SHAPES = ["{deny_head}", "{deny_head} {deny_tail}", "{hes} {deny_head} {deny_tail}", "dangereux non",
               "non {je crois pas|je pense pas|pas que je sache|je ne crois pas}",
               "dangereux, non {pas vraiment|pas trop|pas du tout}", "{deny_tail}, non", "rappeler, non merci",
               "non, je pense pas que ce soit dangereux", "non, {people} peuvent passer à côté",
               "non, c'est juste {sale|moche|embêtant|pénible}", "ah non non, {deny_tail}"]  # fmt: skip
AFFIRM_SHAPES = ["{affirm_head}", "{affirm_head} {affirm_tail}", "{hes} {affirm_head} {affirm_tail}",
                 "dangereux oui", "dangereux, oui {la nuit surtout|quand même|pour {people}}",
                 "oui, {people} {passent sur la route|font des écarts}", "{affirm_head}, {affirm_head}",
                 "ah ben oui {affirm_tail}", "oui oui {affirm_tail}"]  # fmt: skip

DONT_KNOW_HEADS = ["je sais pas", "je ne sais pas", "j'en sais rien", "aucune idée", "je me souviens plus",
                   "je me rappelle plus", "je saurais pas vous dire", "alors là je sais pas", "franchement aucune idée",
                   "je suis pas sûr", "je suis pas sûre", "je connais pas", "j'ai pas fait attention",
                   "j'ai pas regardé", "ça je peux pas vous dire", "je suis pas du coin", "j'en ai pas la moindre idée",
                   "je sais plus", "j'ai oublié", "je me souviens pas", "pas la moindre idée", "ouh là je sais pas",
                   "ben je sais pas", "je vois pas", "je peux pas vous dire", "j'ai aucune idée",
                   "ça m'est sorti de la tête", "je l'ai pas noté", "je suis incapable de vous dire"]  # fmt: skip
DONT_KNOW_OBJECTS = ["", "", "", "le nom de la rue", "le numéro", "le nom du quartier", "la commune",
                     "depuis quand", "si c'est dangereux", "l'adresse exacte", "le code postal", "comment ça s'appelle",
                     "le nom exact", "le numéro de la maison", "le nom de la place", "depuis combien de temps",
                     "ça fait combien de temps", "à quelle hauteur exactement", "le numéro de la rue"]  # fmt: skip
DONT_KNOW_SHAPES = ["{dont_know_head}", "{dont_know_head} {dont_know_object}", "{hes} {dont_know_head}",
                    "{dont_know_object}, {dont_know_head}", "{dont_know_head}, {dont_know_head}",
                    "{dont_know_head} {dont_know_object}, {je suis pas d'ici|je passais juste|c'est pas mon quartier"
                    "|je suis désolé|désolée|à mon âge vous savez}",
                    "oh peuchère {dont_know_head}", "{dont_know_head} hein"]  # fmt: skip

GREET_SHAPES = [
    "{greeting}",
    "{greet_prefix} {greeting}",
    "{greeting} {addressee}",
    "{greet_prefix} {greeting} {addressee}",
    "{greeting} {addressee} {greet_suffix}",
    "{greet_prefix} {greeting} {greet_suffix}",
    "{greeting}, {greet_suffix}",
]
GOODBYE_SHAPES = [
    "{farewell}",
    "{bye_prefix} {farewell}",
    "{farewell} {addressee}",
    "{bye_prefix} {farewell} {addressee}",
    "{farewell}, {farewell}",
    "{bye_prefix} {farewell}, {farewell}",
    "{bye_prefix} je {raccroche|vous laisse} {farewell}",
    "{bye_prefix} c'est tout pour moi, {farewell}",
]
THANK_SHAPES = [
    "{thanks}",
    "{thanks} {addressee}",
    "{thank_prefix} {thanks}",
    "{thanks} {thank_reason}",
    "{thank_prefix} {thanks} {thank_reason}",
    "{thanks}, {thanks}",
    "{thank_prefix} {thanks} {addressee}",
    "{thanks} {addressee} {thank_reason}",
]
REPEAT_SHAPES = [
    "{repeat_head}",
    "{repeat_head} {repeat_tail}",
    "{repeat_prefix} {repeat_head}",
    "{repeat_prefix} {repeat_head} {repeat_tail}",
    "{repeat_head} ?",
    "{repeat_prefix}, {repeat_head} ?",
    "{repeat_head}, {repeat_head}",
]
HUMAN_SHAPES = [
    "{want} {parler à|avoir|échanger avec} {person_to_talk}",
    "{je veux|je voudrais|j'aimerais|je préfère} {avoir|qu'on me passe} {person_to_talk}",
    "laissez-moi parler à {person_to_talk}",
    "passez-moi {person_to_talk}{| s'il vous plaît}",
    "{human_reason}, {want} {avoir|joindre} {person_to_talk}",
    "{human_reason}, passez-moi donc {person_to_talk}",
    "est-ce que je pourrais parler à {person_to_talk}{| s'il vous plaît} ?",
    "mettez-moi en relation avec {person_to_talk}",
    "{person_to_talk} s'il vous plaît",
    "il y a {person_to_talk} {qui peut me répondre|à qui parler|au bout du fil} ?",
    "{hes} {want} avoir {person_to_talk} au bout du fil",
    "je {veux|voudrais} pas parler à {une machine|un robot|un répondeur}, {want} {person_to_talk}",
    "{want} {avoir|joindre} {person_to_talk}, {human_reason}",
    "c'est possible d'avoir {person_to_talk} ?",
    "transférez-moi à {person_to_talk}",
]
EMERGENCY_SHAPES = [
    "{urgency}{hazard}{place_maybe}",
    "{urgency}{hazard} {place}",
    "{hazard}{place_maybe}, {hurry}",
    "{urgency}{hazard}, {hurry}",
    "{hazard} {place}, {hurry}",
    "{opener}{hazard}{place_maybe}",
    "{hurry}, {hazard}",
]
HAZARDS = [
    "{ça empeste|ça pue|on sent|je sens} {le gaz|très fort le gaz|le gaz à plein nez}",
    "il y a une {forte |grosse |}odeur de gaz {dans la rue|devant l'immeuble|dans tout le quartier|}",
    "y a une fuite de gaz {dans la rue|sur le trottoir|au pied de l'immeuble|}",
    "le gaz siffle {sous la chaussée|dans la tranchée du chantier}",
    "ça schlingue le gaz{ partout|}",
    "un câble électrique {s'est décroché et pend|traîne|pend} {jusqu'au sol|sur le trottoir|au milieu de la route}",
    "des fils électriques {arrachés|dénudés} {font des étincelles|pendent jusqu'au sol|traînent par terre}",
    "le poteau électrique s'est couché sur la route avec les fils électriques",
    "y a un câble qui fait des étincelles sur le trottoir",
    "{le conteneur|une voiture|un scooter|la broussaille|la pinède|un arbre} {brûle|a pris feu|est en feu}",
    "les poubelles {brûlent|ont pris feu|sont en feu} {contre la façade|}",
    "il y a le feu {dans le conteneur|dans la colline|à côté des maisons|}",
    "y a des flammes et de la fumée noire",
    "il y a un incendie {dans la rue|dans le parking|}",
    "l'eau arrive dans les {appartements du bas|caves|garages}",
    "l'égout refoule, l'eau entre chez les voisins",
    "le rez-de-chaussée prend l'eau, ça monte dans les appartements",
    "{l'eau|la boue} envahit les maisons",
    "tout est inondé chez nous, l'eau continue de monter",
    "un arbre s'est abattu sur une voiture et il y a {quelqu'un|des gens|un enfant} dedans",
    "une branche a écrasé {une voiture|un abribus} avec {des gens|quelqu'un} dessous",
    "il y a eu un accident grave{ au carrefour|}",
    "au secours, {venez vite|aidez-moi}",
    "une voiture a percuté {un piéton|un cycliste|une poussette}",
]
# "<P>" is the person, "<e>" the feminine ending, "<il>" the pronoun.
PERSON_HAZARDS = [
    "<P> est tombé<e> dans le trou, <il> {bouge plus|saigne|est blessé<e>|a très mal}",
    "<P> s'est fait renverser{ par une voiture| par un scooter|}",
    "<P> est coincé<e> sous {l'arbre|la branche|les gravats}",
    "<P> est inconscient<e> {sur le trottoir|par terre|au pied de l'escalier}",
    "<P> est blessé<e>{, <il> saigne beaucoup|, <il> bouge plus|}",
    "<P> a glissé, <il> {se relève pas|bouge plus|saigne de la tête}",
    "<P> est tombé<e> dans la bouche d'égout ouverte",
    "<P> s'est électrocuté<e> avec le câble",
    "<P> est tombé<e> du mur, <il> respire mal",
    "<P> a perdu connaissance {dans la rue|sur le trottoir}",
    "<P> a été fauché<e> {par une voiture|au passage piéton}",
]
PERSONS = [
    ("quelqu'un", "", "il"), ("une dame", "e", "elle"), ("un monsieur", "", "il"), ("un enfant", "", "il"),
    ("une vieille dame", "e", "elle"), ("un vieux monsieur", "", "il"), ("un cycliste", "", "il"),
    ("mon voisin", "", "il"), ("ma voisine", "e", "elle"), ("un piéton", "", "il"), ("une jeune femme", "e", "elle"),
    ("un petit", "", "il"), ("une mamie", "e", "elle"), ("un ouvrier", "", "il"), ("mon mari", "", "il"),
]  # fmt: skip

OUT_OF_SCOPE_TOPICS = [
    # Bills and taxes, with the words of a report ("eau", "ordures").
    "{je souhaite|j'aimerais|c'est pour} {régler|faire une réclamation sur|comprendre} {bill}",
    "on m'a envoyé {bill} {énorme|beaucoup trop chère|que je comprends pas}",
    "{bill}, {je l'ai pas reçue|elle a doublé|je peux payer en plusieurs fois ?}",
    "on m'a prélevé deux fois {bill}",
    "c'est au sujet de la taxe {sur les poubelles|d'ordures ménagères|foncière|d'habitation}",
    "pourquoi elle a augmenté la taxe sur les poubelles",
    # Inside the home or the building.
    "{mon voisin|le voisin du dessus|les voisins d'en face|la voisine} {fait du bruit jusqu'à pas d'heure"
    "|met le son à fond|fait la fiesta jusqu'à l'aube|crie tout le temps|perce des trous le dimanche}",
    "le chien {d'à côté|de la voisine} aboie {sans arrêt|du matin au soir}",
    "{mon évier fuit|j'ai une fuite dans ma salle d'eau|ça goutte au plafond de ma cuisine}",
    "{mon chauffe-eau|ma chaudière|mon cumulus} {fuit|est en panne|marche plus}",
    "il y a un dégât des eaux dans mon appartement",
    "l'ascenseur de mon immeuble {est en panne|marche plus} depuis {duration}",
    "mon propriétaire {veut pas faire les travaux|ne répond pas}",
    "j'ai plus de courant {chez moi|dans mon appartement}",
    "l'interphone de la résidence {marche plus|est cassé}",
    # Transport.
    "le bus {numéro |}{small_number} passe à quelle heure",
    "c'est quoi les horaires du {bus|tram|métro} {le dimanche|le soir|}",
    "le {bus|tram} est tout le temps en retard",
    "combien coûte {l'abonnement de bus|le ticket de tram|la carte de transport}",
    "le métro est {en grève|fermé} {aujourd'hui|ce soir|}",
    # Refuse collection calendar and the déchetterie.
    "{les poubelles|les encombrants|le camion du tri}, {ça passe|il passe|ils passent} quel jour {dans ma rue|chez moi"
    "|à {commune}|}",
    "la collecte des {encombrants|bacs jaunes|déchets verts} {à {commune}|}, c'est quel jour",
    "la déchetterie {de {commune}|} est ouverte {le dimanche|le lundi|jusqu'à quelle heure}",
    "comment on fait pour {avoir un composteur|faire enlever un encombrant chez moi|avoir des sacs jaunes}",
    "où je peux jeter {un vieux frigo|des pots de peinture|des gravats|un matelas}",
    # Civil status, papers, school, jobs.
    "je voudrais {refaire|renouveler} {ma carte d'identité|mon passeport|mon livret de famille}",
    "c'est pour {un acte de naissance|un acte de mariage|une carte grise|le permis de conduire}",
    "comment on fait pour {s'inscrire pour voter|se marier à la mairie|déclarer une naissance}",
    "c'est pour l'inscription de {mon fils|ma fille|mes enfants} {à l'école|à la cantine|au centre aéré}",
    "{vous embauchez|vous recrutez} à la {mairie|métropole} ?",
    "je cherche {du travail|un stage|un emploi} {à la mairie|}",
    "je voudrais {une place en crèche|un logement social|un rendez-vous à l'état civil}",
    # Fines and the pound.
    "j'ai eu {une amende|un pv|une contravention} {de stationnement|pour rien|}",
    "je {voudrais|souhaite} contester {un pv|une amende|un procès-verbal}",
    "on a {emmené|enlevé} ma voiture à la fourrière",
    "{où est|comment je récupère ma voiture à} la fourrière",
    "c'est combien pour sortir une voiture de la fourrière",
    "j'ai été flashé par un radar",
    # Lost things and pets.
    "{mon chien|mon chat|mon perroquet} {s'est perdu|s'est échappé|a disparu} {hier|ce matin|}",
    "{ma chienne|ma tortue|ma perruche} {s'est perdue|s'est échappée|a disparu} {hier|ce matin|}",
    "j'ai perdu {mes clés|mon portefeuille|mon téléphone|mes papiers} {dans le bus|à la plage|}",
    "j'ai trouvé un chien perdu",
    # Town hall, opening hours, other services.
    "{la mairie|la mairie annexe|la piscine|la médiathèque} est ouverte {à quelle heure|le samedi|aujourd'hui} ?",
    "c'est quoi les horaires de {la mairie|la piscine|la médiathèque|la déchetterie}",
    "je voudrais {l'adresse|le numéro} {du commissariat|de la préfecture|de la caf}",
    "je voudrais porter plainte",
    "on m'a volé {mon vélo|mon scooter|mon sac}",
    "j'ai pas reçu {mon colis|ma retraite|mon allocation}",
    "ma box internet {marche plus|est en panne}",
    "{quel temps il fera|il va pleuvoir|il va faire beau} {demain|ce week-end} {à {commune}|}",
    "vous {pouvez|savez} {me raconter une blague|chanter une chanson}",
    "vous connaissez une bonne blague",
    "c'est qui qui a gagné le match {hier|ce week-end}",
    "vous {livrez des pizzas|faites restaurant|pouvez m'envoyer un taxi} ?",
    "oups, mauvais numéro",
    "c'est bien {la pharmacie|le cabinet du docteur|la poste} ?",
    "{test test|allô allô test|un deux un deux}",
    "{bla bla|tralala|patati patata|hum hum} {bla|la la|}",
    "{banane|girafe|trompette|chocolat} {licorne|parapluie|saucisson} {cerise|}",
]
BILLS = ["ma facture d'eau", "la facture d'eau", "ma taxe d'habitation", "la taxe d'ordures ménagères",
         "ma taxe foncière", "ma facture de cantine", "l'avis d'imposition",
         "la facture du ramassage des ordures"]  # fmt: skip
OUT_OF_SCOPE_SHAPES = [
    "{oos_topic}",
    "{oos_topic}",
    "{opener}{oos_topic}",
    "{hes} {oos_topic}",
    "{oos_lead} {oos_topic}",
    "{oos_topic}, {c'est pour ça que j'appelle|vous pouvez m'aider ?|c'est bien ici ?|je sais pas à qui m'adresser}",
]


# ---------------------------------------------------------------------------------------------------------------
# Slots.
# ---------------------------------------------------------------------------------------------------------------


def build_grammar(categories: Sequence[CategoryPhrases], places: Places) -> Grammar:
    g = Grammar()
    g.add("opener", ["", "", "", "", "oui bonjour ", "allô ", "allô bonjour ", "euh ", "ben ",
                     "alors ", "bonjour madame ", "oui allô ", "excusez-moi ", "bonjour euh ",
                     "bah ", "alors voilà ", "euh ben ", "bonjour alors "])  # fmt: skip
    g.add("hes", ["euh", "ben", "bah", "alors", "euh ben", "bah euh", "alors euh", "bon"])
    g.add("no", ["non", "non non", "ah non", "euh non", "non pardon", "non attendez", "nan", "ah non non"])
    g.add("people", ["les enfants", "les anciens", "les poussettes", "les vélos", "les scooters",
                     "les piétons", "les gens en fauteuil", "les motards", "les mamies", "les minots"])  # fmt: skip
    g.add("duration", lambda rng: rng.choice([
        f"{said_number(rng, rng.randint(2, 20))} jours", f"{said_number(rng, rng.randint(2, 8))} semaines",
        f"{said_number(rng, rng.randint(2, 11))} mois", "une semaine", "un mois", "plusieurs semaines",
        "plusieurs mois", "quinze jours", "au moins un an", "deux ans",
    ]))  # fmt: skip
    g.add("day", ["hier", "hier soir", "ce matin", "lundi", "mardi dernier", "le week-end", "la semaine dernière",
                  "dimanche", "avant-hier", "l'orage", "le début du mois", "cette nuit", "la tempête",
                  "l'hiver dernier", "les dernières pluies", "les travaux"])  # fmt: skip
    g.add("since", ["depuis {duration}", "depuis {day}", "ça fait {duration} que ça dure",
                    "il y a {duration} que c'est comme ça"])  # fmt: skip
    g.add("small_number", lambda rng: said_number(rng, rng.randint(2, 90)))
    g.add("number", lambda rng: said_number(rng, street_number(rng)))
    g.add("phone", phone_number)
    g.add("ordinal", lambda rng: rng.choice(ORDINALS) if rng.random() < 0.7 else f"{rng.randint(2, 16)}e")
    g.add("postcode", lambda rng: f"13{rng.choice([0, 0, 0, 1, 4, 6, 7, 8])}{rng.randint(0, 9)}{rng.randint(0, 9)}")

    # Places.
    g.add("commune", list(places.communes))
    g.add("at_commune", lambda rng: at(rng.choice(places.communes)))
    g.add("street_type", STREET_TYPES_FEMININE + STREET_TYPES_MASCULINE)
    g.add("street_name", STREET_NAMES)
    g.add("street", ["{street_type} {street_name}"])
    g.add("type_swap", type_swap)
    g.add("street_with_article", lambda rng: street_with_article(rng))
    g.add("address", ["{number} {street}", "{number} {bis|ter} {street}", "au {number} {street}",
                      "numéro {number} {street}", "au {number} {bis|ter} {street}"])  # fmt: skip
    g.add("at_address", ["au {number} {street}", "au {number} {bis|ter} {street}", "devant le {number} {street}",
                         "en face du {number} {street}", "{street} au niveau du {number}", "{street}",
                         "à l'angle {of_street} et {of_street}", "au bout {of_street}"])  # fmt: skip
    g.add("of_street", lambda rng: of(street_with_article(rng)))
    g.add("in_arrondissement", ["dans le {ordinal}", "dans le {ordinal} arrondissement",
                                "à Marseille dans le {ordinal}", "Marseille {ordinal}",
                                "dans le {ordinal} à Marseille"])  # fmt: skip
    g.add("in_quarter", lambda rng: quarter_phrase(rng, places))
    g.add("landmark", list(places.landmarks))
    g.add("near_landmark", lambda rng: cue_phrase(rng, rng.choice(places.landmarks)))
    g.add("landmark_phrase", lambda rng: place_word_phrase(rng, places))
    g.add("place", lambda rng: rng.choices(
        ["{at_address}", "à {commune}", "{landmark_phrase}", "{near_landmark}", "{in_quarter}", "{in_arrondissement}",
         "{at_address} à {commune}", "{landmark_phrase} à {commune}", "{landmark_phrase}, {at_address}"],
        weights=[30, 18, 14, 9, 9, 7, 5, 5, 3],
    )[0])  # fmt: skip
    g.add("place_maybe", ["", "", " {place}", " {place}", " {place}"])
    g.add("place_answer", ["{address}", "{commune}", "{street}", "{landmark}", "Marseille {ordinal}",
                           "le {ordinal}", "{street}, {commune}", "{commune}, {in_quarter}",
                           "{commune} {street}"])  # fmt: skip

    # Problems, per category: the category is drawn first, so that every one gets its share.
    by_code = {c.code: c for c in categories}

    def problem_of(rng: random.Random, code: str) -> str:
        category = by_code[code]
        written = PROBLEMS.get(code, [])
        options = written + [f"il y a {{un|un|}} problème {of(n)}" for n in category.nouns[:3]]
        return rng.choice(options) if options else "il y a un problème"

    def problem_line(rng: random.Random) -> str:
        code = rng.choice([c.code for c in categories])
        category = by_code[code]
        roll = rng.random()
        if (roll < 0.22 and category.nouns) or code not in PROBLEMS:
            noun = rng.choice(category.nouns) if category.nouns else code.replace("_", " ")
            shape = rng.choice(SYNONYM_SHAPES)
            return shape.replace("{of_noun}", of(noun)).replace("{noun}", noun)
        if roll < 0.3 and category.examples:
            return rng.choice(EXAMPLE_SHAPES).replace("{example}", rng.choice(category.examples))
        shape = rng.choice(REPORT_SHAPES)
        fragment = rng.choice(FRAGMENTS.get(code) or [problem_of(rng, code)])
        problem = problem_of(rng, code)
        again = next((p for p in (problem_of(rng, code) for _ in range(5)) if p != problem), problem)
        return shape.replace("{problem_again}", again).replace("{problem}", problem).replace("{fragment}", fragment)

    g.add("report_line", problem_line)
    things = [t for c in categories for t in THINGS.get(c.code, [f"un problème {of(n)}" for n in c.nouns[:2]])]
    g.add("thing", things)
    g.add("danger_content", DANGER_CONTENT)

    # Polar answers and the short intents.
    g.add("affirm_head", AFFIRM_HEADS)
    g.add("affirm_tail", AFFIRM_TAILS)
    g.add("deny_head", DENY_HEADS)
    g.add("deny_tail", DENY_TAILS)
    g.add("dont_know_head", DONT_KNOW_HEADS)
    g.add("dont_know_object", DONT_KNOW_OBJECTS)
    g.add("greeting", ["bonjour", "bonjour", "bonsoir", "allô", "allo", "salut", "bonjour bonjour", "allô allô",
                       "jour", "bien le bonjour", "bonjour à vous", "rebonjour", "allô oui", "bonjour à tous",
                       "bonjour bonsoir", "coucou", "bonjour à vous aussi"])  # fmt: skip
    g.add("addressee", ["madame", "monsieur", "mademoiselle", "messieurs dames", "à vous", "ma petite dame",
                        "jeune homme", "mon petit", "madame monsieur"])  # fmt: skip
    g.add("greet_prefix", ["oui", "euh", "ah", "allô", "ben", "oui oui", "eh", "alors", "oui allô", "hé"])
    g.add("greet_suffix", ["euh", "c'est bien la métropole ?", "je suis bien à la métropole ?", "ça va ?",
                           "comment allez-vous ?", "j'espère que vous allez bien", "vous m'entendez ?",
                           "je suis bien au bon service ?", "c'est la mairie ?", "il y a quelqu'un ?",
                           "comment ça va ?", "pardon de vous déranger", "enfin bonjour", "hein"])  # fmt: skip
    g.add("farewell", ["au revoir", "bonne journée", "bonne soirée", "à bientôt", "à la prochaine", "salut",
                       "ciao", "allez bye", "bonne fin de journée", "bon week-end", "bonne continuation",
                       "au revoir et bonne journée", "adieu", "à plus tard", "bonne nuit", "tchao",
                       "au plaisir", "bye bye", "à la revoyure", "allez à plus"])  # fmt: skip
    g.add("bye_prefix", ["merci", "bon ben", "allez", "ok", "bon", "c'est tout", "voilà", "merci beaucoup",
                         "parfait", "très bien", "bon allez", "c'est bon", "d'accord", "ok merci",
                         "bon ben voilà", "super", "eh ben"])  # fmt: skip
    g.add("thanks", ["merci", "merci beaucoup", "merci bien", "je vous remercie", "c'est gentil", "merci à vous",
                     "merci infiniment", "mille mercis", "merci mille fois", "c'est très gentil",
                     "vous êtes bien aimable", "merci bien madame", "grand merci", "je vous remercie beaucoup",
                     "c'est sympa", "c'est aimable à vous", "merci encore", "merci merci"])  # fmt: skip
    g.add("thank_prefix", ["ah", "oh", "super", "parfait", "très bien", "eh ben", "bon", "ah ben", "ah super",
                           "impeccable", "génial", "d'accord", "ok", "ah d'accord", "ben", "oh ben"])  # fmt: skip
    g.add("thank_reason", ["pour votre aide", "pour tout", "pour votre patience", "de m'avoir écouté",
                           "d'avoir pris mon signalement", "pour le renseignement", "pour votre travail",
                           "de vous en occuper", "pour votre gentillesse", "d'avoir pris le temps",
                           "c'est vraiment gentil", "vous êtes bien aimable", "ça fait plaisir"])  # fmt: skip
    g.add("repeat_head", ["pardon", "comment", "vous pouvez répéter", "quoi", "hein", "excusez-moi", "répétez",
                          "redites", "j'ai pas compris", "j'ai pas entendu", "j'ai rien compris",
                          "je vous entends mal", "ça coupe", "vous avez dit quoi", "qu'est-ce que vous dites",
                          "parlez plus lentement", "parlez plus fort", "vous pouvez reformuler",
                          "la question c'était quoi", "je n'ai pas saisi", "ça grésille", "je vous entends pas",
                          "vous dites quoi", "répétez la question", "j'ai pas bien compris",
                          "qu'est-ce que vous avez dit", "c'était quoi la question",
                          "redites-moi ça", "j'ai pas suivi", "vous pouvez parler plus fort",
                          "je n'ai pas compris la question", "ça a coupé", "pouvez-vous répéter"])  # fmt: skip
    g.add("repeat_tail", ["s'il vous plaît", "madame", "monsieur", "la ligne est mauvaise", "ça a coupé",
                          "il y a du bruit", "le réseau est mauvais", "j'ai un camion qui passe", "je capte mal",
                          "j'ai pas entendu la fin", "plus lentement", "une fois encore", "s'il vous plaît madame",
                          "j'ai l'oreille dure", "avec le bruit des voitures j'entends rien"])  # fmt: skip
    g.add("repeat_prefix", ["pardon", "euh", "oh", "hein", "désolé", "attendez", "allô"])
    g.add("want", ["je souhaiterais", "j'aimerais", "je préfère", "je demande à", "je tiens à"])
    g.add("person_to_talk", ["quelqu'un", "un conseiller", "une conseillère", "une personne en chair et en os",
                             "un humain",
                             "un être humain", "un agent", "un opérateur", "une opératrice", "le standard",
                             "la standardiste", "un responsable", "quelqu'un de la mairie", "quelqu'un du service",
                             "une personne physique", "quelqu'un en vrai",
                             "quelqu'un de chez vous", "un technicien", "le service technique", "un employé",
                             "votre chef", "une dame", "un monsieur", "quelqu'un de vivant"])  # fmt: skip
    g.add("human_reason", ["j'en ai marre de causer avec un automate", "votre robot comprend rien",
                           "c'est trop compliqué pour moi", "je pige rien à votre système",
                           "je m'en sors pas avec le robot", "ça fait trois fois que je répète",
                           "à mon âge les machines c'est pas pour moi", "vous êtes un robot",
                           "ça sert à rien de discuter avec un automate", "votre répondeur automatique m'escagasse",
                           "c'est un robot qui répond", "j'aime pas parler à un robot",
                           "je préfère avoir quelqu'un au téléphone", "c'est pour une situation compliquée",
                           "vous comprenez rien", "oh peuchère ce robot"])  # fmt: skip
    g.add("urgency", ["", "", "vite ", "au secours ", "allô vite ", "c'est urgent ", "mon dieu ", "oh là là ",
                      "venez vite ", "urgence ", "aidez-moi "])  # fmt: skip
    g.add("hurry", ["venez rapidement", "appelez les pompiers", "c'est urgent", "envoyez quelqu'un vite",
                    "faut appeler le samu", "il faut les secours", "dépêchez-vous", "c'est très grave",
                    "il faut faire vite"])  # fmt: skip
    g.add("hazard", lambda rng: hazard(rng))
    g.add("oos_topic", OUT_OF_SCOPE_TOPICS)
    g.add("bill", BILLS)
    g.add("oos_lead", ["je voulais savoir,", "une question,", "c'est pour un renseignement,", "j'appelle parce que",
                       "bonjour, j'ai une question,", "excusez-moi de vous déranger,", "dites-moi,",
                       "allô oui bonjour,"])  # fmt: skip
    return g


CUES = ["devant", "derrière", "en face", "à côté", "près", "au niveau", "un peu après", "un peu avant", "à la sortie",
        "à l'entrée", "au bout", "le long", "pas loin", "sur le parking", "vers"]  # fmt: skip
# Cues followed by "de" ("en face de la mairie"); the others take the noun phrase directly ("devant la mairie").
CUES_WITH_OF = {"en face", "à côté", "près", "au niveau", "à la sortie", "à l'entrée", "au bout", "le long",
                "pas loin", "sur le parking"}  # fmt: skip


def cue_phrase(rng: random.Random, noun_phrase: str) -> str:
    cue = rng.choice(CUES)
    return f"{cue} {of(noun_phrase)}" if cue in CUES_WITH_OF else f"{cue} {noun_phrase}"


def place_word_phrase(rng: random.Random, places: Places) -> str:
    """ "devant l'école Frédéric Mistral", "en face de la mairie", "au rond-point de la gare"."""
    word, phrase = rng.choice(places.place_words)
    complements = PLACE_COMPLEMENTS.get(word, [])
    if complements and (word in VAGUE_PLACES or rng.random() < 0.4):
        phrase = f"{phrase} {rng.choice(complements)}"
    elif word in VAGUE_PLACES:
        phrase = f"{phrase} {of(rng.choice(['la mairie', 'la gare', 'le stade', 'la poste']))}"
    return cue_phrase(rng, phrase)


def quarter_phrase(rng: random.Random, places: Places) -> str:
    commune, quarter = rng.choice(places.quarters)
    phrase = rng.choice([at(quarter), f"vers {quarter}", f"du côté {of(quarter)}", f"dans le quartier {of(quarter)}"])
    # "à la Gavotte, sur les Pennes": the commune after "sur", as Provence says it.
    return f"{phrase} sur {commune[:1].lower()}{commune[1:]}" if rng.random() < 0.2 else phrase


def street_with_article(rng: random.Random) -> str:
    kind = rng.choice(STREET_TYPES_FEMININE + STREET_TYPES_MASCULINE)
    name = rng.choice(STREET_NAMES)
    if starts_with_vowel(kind):
        return f"l'{kind} {name}"
    return f"{'la' if kind in STREET_TYPES_FEMININE else 'le'} {kind} {name}"


def type_swap(rng: random.Random) -> str:
    """The same name with another kind of street: "pas rue Paradis, boulevard Paradis"."""
    said, meant = rng.sample(sorted(set(STREET_TYPES_FEMININE + STREET_TYPES_MASCULINE)), 2)
    name = rng.choice(STREET_NAMES)
    if rng.random() < 0.5:
        return f"pas {said} {name}, {meant} {name}"
    return f"c'est {meant} {name} pas {said} {name}"


def hazard(rng: random.Random) -> str:
    if rng.random() < 0.35:
        person, ending, pronoun = rng.choice(PERSONS)
        shape = rng.choice(PERSON_HAZARDS)
        return shape.replace("<P>", person).replace("<e>", ending).replace("<il>", pronoun)
    return rng.choice(HAZARDS)


# ---------------------------------------------------------------------------------------------------------------
# How the recogniser writes a line: half in lower case without punctuation, some with a slip.
# ---------------------------------------------------------------------------------------------------------------

HOMOPHONES: list[tuple[str, Callable[[random.Random], str]]] = [
    (r"\best\b", lambda rng: "et"),
    (r"\bet\b", lambda rng: "est"),
    (r"\bça\b", lambda rng: "sa"),
    (r"\bà\b", lambda rng: "a"),
    (r"\ba\b", lambda rng: "à"),
    (r"\bc'est\b", lambda rng: rng.choice(["ses", "sait", "s'est", "ces"])),
    (r"\bs'est\b", lambda rng: "c'est"),
    (r"\bont\b", lambda rng: "on"),
    (r"\bpeux\b", lambda rng: "peut"),
]
FILLERS = ["euh", "ben", "bah", "voilà", "hein", "alors", "euh euh", "bon"]
# Intents whose lines are a yes or a no: "voilà" would turn a no into a yes.
POLAR_FILLERS = ["euh", "ben", "bah", "hein"]


def slip(rng: random.Random, line: str) -> str:
    """One recogniser slip: a homophone, a dropped "ne", a lost final letter, a word split in two."""
    kind = rng.choice(["homophone", "homophone", "ne", "final", "split"])
    if kind == "homophone":
        candidates = [(p, r) for p, r in HOMOPHONES if re.search(p, line)]
        if candidates:
            pattern, replacement = rng.choice(candidates)
            matches = list(re.finditer(pattern, line))
            match = rng.choice(matches)
            return line[: match.start()] + replacement(rng) + line[match.end() :]
    if kind == "ne" and re.search(r"\b(ne |n')", line):
        if "je n'" in line:
            return line.replace("je n'", "j'", 1)
        return re.sub(r"\bne (?=\w)|\bn'(?!importe)", "", line, count=1)
    words = line.split()
    if kind == "final":
        long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if long_words:
            index = rng.choice(long_words)
            words[index] = words[index][:-1]
            return " ".join(words)
    joined = [i for i, w in enumerate(words) if ("'" in w or "-" in w) and len(w) > 3]
    if joined and rng.random() < 0.6:
        index = rng.choice(joined)
        words[index] = words[index].replace("'", " ", 1).replace("-", " ")
        return " ".join(words)
    long_words = [i for i, w in enumerate(words) if len(w) >= 8 and w.isalpha()]
    if long_words:
        index = rng.choice(long_words)
        word = words[index]
        cut = rng.randint(3, len(word) - 3)
        words[index] = f"{word[:cut]} {word[cut:]}"
    return " ".join(words)


def with_filler(rng: random.Random, line: str, fillers: Sequence[str]) -> str:
    """ "hein" ends a line, "euh" falls anywhere, the others start it or a clause."""
    filler = rng.choice(fillers)
    if filler == "hein":
        return f"{line} hein"
    words = line.split()
    if filler.startswith("euh"):
        position = rng.randint(0, max(0, len(words) - 1))
        return " ".join([*words[:position], filler, *words[position:]])
    clauses = [i + 1 for i, w in enumerate(words[:-1]) if w.endswith(",")]
    position = rng.choice([0, *clauses])
    return " ".join([*words[:position], filler, *words[position:]])


def spoken(line: str) -> str:
    """As the recogniser writes it: lower case, no punctuation but apostrophes and hyphens."""
    return " ".join(re.sub(r"[.,;:!?…]", " ", line.lower()).split())


def written(line: str) -> str:
    """As a person writes it: a capital letter and a final stop."""
    line = line[:1].upper() + line[1:]
    return line if line.endswith(("?", "!", ".")) else f"{line}."


def styled(rng: random.Random, line: str, fillers: Sequence[str]) -> str:
    if rng.random() < 0.2:
        line = with_filler(rng, line, fillers)
    if rng.random() < 0.5:
        return written(line)
    said = spoken(line)
    if rng.random() < 0.4:
        said = slip(rng, said)
    return said


# ---------------------------------------------------------------------------------------------------------------
# The corpus.
# ---------------------------------------------------------------------------------------------------------------

SHAPES: dict[str, list[str]] = {
    "report_problem": ["{report_line}"],
    "inform": INFORM_SHAPES,
    "correct": CORRECT_SHAPES,
    "affirm": AFFIRM_SHAPES,
    "deny": DENY_SHAPES,
    "dont_know": DONT_KNOW_SHAPES,
    "greet": GREET_SHAPES,
    "goodbye": GOODBYE_SHAPES,
    "thank": THANK_SHAPES,
    "repeat": REPEAT_SHAPES,
    "request_human": HUMAN_SHAPES,
    "emergency": EMERGENCY_SHAPES,
    "out_of_scope": OUT_OF_SCOPE_SHAPES,
}
POLAR_INTENTS = {"affirm", "deny", "dont_know", "greet", "goodbye", "thank", "repeat"}
# Draws per wanted line before an intent's shapes are taken as exhausted.
ATTEMPTS_PER_LINE = 40


def hand_written_lines(path: Path = HAND_WRITTEN_FILE) -> dict[str, list[str]]:
    data = read_yaml(path)
    return {
        str(block["intent"]): [
            line[2:].strip() for line in str(block["examples"]).splitlines() if line.startswith("- ")
        ]
        for block in data.get("nlu") or ()
    }


def generate(
    taxonomy_path: Path = DEFAULT_TAXONOMY,
    gazetteer_path: Path = DEFAULT_GAZETTEER,
    hand_written_path: Path = HAND_WRITTEN_FILE,
    targets: dict[str, int] = TARGETS,
) -> dict[str, list[str]]:
    """Lines per intent, deduplicated (folded), none already hand-written, none under two intents."""
    categories = read_categories(taxonomy_path)
    if not any(c.code == OTHER_CATEGORY for c in categories):
        raise ValueError(f"{taxonomy_path}: no '{OTHER_CATEGORY}' category")
    grammar = build_grammar(categories, read_places(gazetteer_path))
    taken = {fold(line) for lines in hand_written_lines(hand_written_path).values() for line in lines}
    # A draw that happens to repeat an evaluation line's words (a house number in the nineties, a phone number's
    # first pairs, a common refusal) is dropped: the sets keep measuring only while training does not say them.
    evaluation = evaluation_words()
    # A few more than wanted, so that lines dropped for sitting under two intents leave the counts whole.
    drafts: dict[str, dict[str, tuple[str, str]]] = {}
    for intent, wanted in targets.items():
        # One stream per intent: editing one intent's shapes leaves the others' lines be.
        rng = random.Random(f"{SEED}:{intent}")
        fillers = POLAR_FILLERS if intent in POLAR_INTENTS else FILLERS
        lines: dict[str, tuple[str, str]] = {}  # folded line -> (line, folded sentence before styling)
        sentences: set[str] = set()
        for _ in range(wanted * ATTEMPTS_PER_LINE):
            if len(lines) >= wanted * 11 // 10:
                break
            sentence = grammar.expand(rng.choice(SHAPES[intent]), rng)
            line = styled(rng, sentence, fillers)
            key, base = fold(line), fold(sentence)
            # One styling per sentence: slips and fillers vary lines, they do not multiply one sentence.
            if not key or base in sentences or key in lines or {key, base} & taken or says_twice(base):
                continue
            if intent == "correct" and corrects_nothing(base):
                continue
            if FORBIDDEN_CHARACTERS.search(line) or evaluation.repeated_in(line) or evaluation.repeated_in(sentence):
                continue
            sentences.add(base)
            lines[key] = (line, base)
        drafts[intent] = lines
    owners: dict[str, set[str]] = {}
    for intent, lines in drafts.items():
        for key, (_, base) in lines.items():
            owners.setdefault(key, set()).add(intent)
            owners.setdefault(base, set()).add(intent)
    return {
        intent: [line for key, (line, base) in lines.items() if len(owners[key] | owners[base]) == 1][: targets[intent]]
        for intent, lines in drafts.items()
    }


# Words around the value a correction swaps ("non c'est au 14 pas au 4").
_CORRECTION_WORDS = frozenset(
    """non nan ah euh attendez pardon c est au a le la les l dans pas en fait plutot vraiment un une des du de
    arrondissement""".split()
)


def corrects_nothing(folded: str) -> bool:
    """A correction that gives back the value it corrects: "c'est dans le huitième pas dans le huitième"."""
    said, _, meant = folded.partition(" pas ")
    before = [w for w in said.split() if w not in _CORRECTION_WORDS]
    after = [w for w in meant.split() if w not in _CORRECTION_WORDS]
    half = len(after) // 2
    return (bool(before) and before == after) or (bool(after) and len(after) % 2 == 0 and after[:half] == after[half:])


def says_twice(folded: str) -> bool:
    """A run of four words said twice ("il y a des tags ... il y a des tags"): a shape filled with itself."""
    words = folded.split()
    runs = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    return len(runs) != len(set(runs))


def render(corpus: dict[str, list[str]]) -> str:
    out = [
        'version: "3.1"',
        "# Generated by `python -m dialogue.corpus` from config/taxonomy.yaml, dialogue/gazetteer.yaml and the",
        "# sentence shapes in dialogue/corpus.py: edit those and regenerate, not this file.",
        "nlu:",
    ]
    for intent, lines in corpus.items():
        out += [f"  - intent: {intent}", "    examples: |"]
        out += [f"      - {line}" for line in sorted(lines, key=lambda line: (fold(line), line))]
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dialogue.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is not what is generated")
    parser.add_argument("--output", type=Path, default=OUTPUT_FILE)
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `python -m dialogue.corpus`", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
