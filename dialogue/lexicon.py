"""What a caller's words say about the kind of call, whatever the NLU made of them: an immediate emergency, a
request this service does not handle, a problem on private property.

DIET is over-confident out of its domain, so the decisions that end or redirect a call (emergency handoff,
out-of-scope answer) also need lexical evidence from here. Patterns work on `fold`ed text (lower case, no accents,
no punctuation) and name kinds of situations, not sentences.
"""

from __future__ import annotations

import re

from dialogue.knowledge import fold

# Immediate danger to people: gas, live wires, someone hurt, fire, water entering homes. A *risk* ("c'est
# dangereux", "quelqu'un pourrait tomber") is the report's danger field, never an emergency.
_PERSON = (
    r"(quelqu un|une personne|un pieton|une pietonne|un enfant|une enfant|un gamin|une gamine|un petit|"
    r"une petite|une dame|un monsieur|un homme|une femme|un cycliste|un motard|un vieux|une vieille|"
    r"une personne agee|un passant|une passante|un jeune|un bebe|mon fils|ma fille|mon mari|ma femme|"
    r"mon pere|ma mere|un ado|des gens|des enfants|des personnes|un ouvrier|ma voisine|mon voisin|"
    r"une voisine|un voisin|une mamie|un papi|un livreur|une cycliste|"
    r"le monsieur|la dame|le petit|la petite|le gamin|la gamine|un minot|une minote|le minot|la minote|"
    r"un gosse|le gosse|l enfant|le bebe|le vieux|la vieille|le papi|la mamie|mon petit|ma petite|le jeune)"
)
# Spoken French repeats the subject as a pronoun, a few words on ("le petit du voisin, il est tombé").
_AND_PRONOUN = r"(?:(?: \w+){0,4} (?:il|elle|ils|elles))?"
_HOME = (
    r"(maison|maisons|appartement|appartements|appart|chez moi|chez nous|chez eux|chez les voisins|"
    r"rez de chaussee|rez de chaussees|logement|logements|habitation|habitations|sous sol|sous sols|cave|caves|"
    r"garage|garages|immeuble|immeubles|salon|cuisine|chambre)"
)
# Water coming in, in any tense or mood ("rentre", "va rentrer", "a commencé à monter").
_COMES_IN = (
    r"(r?entr(e|es|ent|er|ait|aient|ee)|mont(e|ent|er|ait|ee)|arriv(e|ent|er|ait)|coul(e|ent|er|ait)|"
    r"pass(e|ent|er|ait) sous les portes|envahi(t|ssent|r)?)"
)
STRONG_EMERGENCY = re.compile(
    "|".join(
        (
            # A smell of gas, the words between as callers put them ("ça sent vraiment fort le gaz", "ça sent
            # vachement le gaz", "une odeur bizarre de gaz").
            r"\b(odeur|odeurs|sent|sens|sentir|senti|fuite|fuit|fuient|respire|respirer)( \w+){0,3} (de |du |le |la )?"
            r"gaz\b(?! d echappement)",
            r"\bgaz (qui|qu il) (fuit|sort|s echappe)\b|\bfuite de gaz\b|\bconduite de gaz\b",
            r"\b(fil|fils|cable|cables) (electrique|electriques|haute tension|du courant|d electricite)\b",
            r"\belectrocut\w*|\b(etincelle|etincelles)\b|\bcourant (a terre|qui passe dans)\b|"
            r"\bpoteau electrique tombe",
            r"\b(blesse|blessee|blesses|blessees|inconscient|inconsciente|saigne|saignent|evanoui|evanouie)\b",
            r"\b(respire plus|respire pas|ne respire|perdu connaissance|s est ouvert la tete|a mal partout)\b",
            rf"\b{_PERSON}{_AND_PRONOUN} (est|sont) (tombe|tombee|tombes|tombees) (par terre|dans|du|de|sur)\b.{{0,40}}"
            r"\b(mal|bouge|releve|saigne|blesse|blessee|respire)",
            rf"\b{_PERSON}{_AND_PRONOUN} (s est fait|se sont fait|a ete|ont ete|est|sont|vient d etre) "
            r"(renverse|renversee|renverses|percute|percutee|fauche|fauchee|ecrase|ecrasee|coince|coincee|coinces|"
            r"bloque dans|tombe dans|tombee dans|tombes dans|electrocute)",
            rf"\b(tombe|tombee|tombes|effondre|effondree) sur {_PERSON}",
            rf"\b(renverse|percute|fauche) {_PERSON}",
            r"\b(y a|il y a|avec) (encore )?quelqu un (dedans|dessous|coince)\b",
            # A fire burning, not the equipment against one nor its risk ("la bouche d'incendie est cassée", "le poteau
            # incendie est tordu", "une zone à risque incendie")
            r"(?<!bouche d )(?<!borne a )(?<!borne d )(?<!bouche a )(?<!borne )(?<!poteau )(?<!poteau d )"
            r"(?<!poteau a )(?<!risque )(?<!risque d )(?<!risques d )(?<!prevention des )(?<!prevention d )"
            r"\bincendie\b",
            # "au feu !" is a cry, opening the line or after another; "tournez au feu", "au feu devant X" say where
            r"(?:^|\b(?:au secours|vite|aidez moi|aidez nous|au feu|venez|allo|oh|ah|mon dieu|bonjour) )au feu\b"
            r"(?! (?:rouge|rouges|tricolore|vert|orange|pieton|devant|derriere|pres|a cote|en face|apres|avant|"
            r"au niveau|du carrefour|de la rue|de l avenue|du boulevard)\b)|"
            r"\b(il y a le feu|y a le feu|en feu|prend feu|prennent feu|pris feu|le feu a pris|departs? de feu|"
            r"en train de bruler|flammes|fumee noire)\b|\bca fume\b(?! plus| pas)",
            # "un feu de poubelle": a fire burning, not a traffic light
            r"\bfeux? de (?:poubelles?|broussailles?|foret|colline|voitures?|bennes?|conteneurs?|vegetation|garrigue|"
            r"herbes?|palettes?|pneus?|dechets)\b",
            rf"\b(eau|egout|egouts)\b.{{0,40}}\b{_COMES_IN}\b.{{0,25}}{_HOME}",
            rf"\b(inonde|inondent|inondee|inondees|inondes|envahi|envahie|envahit)\b.{{0,12}}{_HOME}",
            # "on a quinze centimètres dans le garage": water standing inside a home
            rf"\b\w+ (cm|centimetres?) (d eau )?(dans|chez)\b.{{0,12}}{_HOME}",
            rf"{_HOME}( de la \w+| du \w+| de l \w+| des \w+)? (est |sont )?"
            r"(completement |toute |tout |tous |toutes )?(inonde|inondee|inondes|inondees|"
            r"sous l eau|envahie|envahi)",
            r"\baccident grave\b|\bnoyade\b|\bse noie\b|\beffondre sur\b|\bimmeuble (qui )?s effondre\b",
            # Gas named beside a sign of it, in either order ("ça pue le gaz", "le gaz on le sent jusqu'ici").
            r"\bgaz\b.{0,30}\b(odeur|sent|sens|pue|puait|fuit|fuite|siffle|s echappe)\b"
            r"|\b(pue|puait|schlingue|cocotte) (le |du )?gaz\b",
            r"\bodeur (de la |d une )?gaziniere\b",
            r"\b(fil|fils|cable|cables)\b.{0,30}\b(au sol|par terre|a terre|traine|trainent|pend|pendent|arrache)\b"
            r".{0,30}\b(electrique|electriques|courant|jus|etincelle|etincelles|grille|grillent)\b",
            r"\b(il|elle|ils|elles) (est|sont) (coince|coincee|coinces|coincees|bloque|bloquee|pris|prise|tombe|"
            r"tombee) (sous|dessous|dedans|au fond)\b",
            rf"\b(gens|personnes|quelqu un|enfants|passagers|{_PERSON[1:-1]}) (dedans|dessous)\b",
            rf"\b{_PERSON} (coince|coincee|coinces|coincees|prisonnier|prisonniere|bloque|bloquee) "
            r"(dedans|dessous|sous|a l interieur|dans (?:sa|son|la|le|une|un) (?:voiture|auto|maison|cave|garage))\b",
            r"\b(un|des|deux|trois|plusieurs) (blesse|blesses|blessee|blessees)\b|\bil y a (un|des) (mort|morts)\b",
            # Something burning now, said with what burns ("les poubelles brûlent"): "le lampadaire brûlé" folds to
            # the same letters and is no fire.
            r"\b(qui|poubelle|poubelles|conteneur|conteneurs|voiture|voitures|arbre|arbres|herbe|herbes|foret|"
            r"pinede|colline|broussaille|broussailles|maison|immeuble|batiment|tout) (?:(?:il|elle) )?"
            r"(est en train de |sont en train de )?"
            r"(brule|brulent|bruler|crame|cramer)\b(?! (plus|pas|jamais))",
            rf"\b(eau|egout|egouts)\b.{{0,40}}\b{_COMES_IN}\b.{{0,20}}\bchez (les gens|des gens|"
            r"les voisins|nous|moi|eux)\b",
        )
    )
)
# A cable on the ground or bare is a live wire unless it is the telephone's: then it is a report (and one question).
# One only hanging is asked about (MAYBE_EMERGENCY).
CABLE_DOWN = re.compile(
    r"\b(fil|fils|cable|cables) (denude|denudes|a terre|par terre|au sol|tombe|tombes)\b"
    r"|\b(fil|fils|cable|cables)\b.{0,30}\b(touche|touchent|traine|trainent|pend|pendent) (jusqu )?(le sol|par terre|"
    r"a terre|au sol)\b"
)
# "Ça brûle" is a fire, unless it is what the skin feels (caterpillars' hairs, nettles).
BURNING_NOW = re.compile(r"\bca (est en train de |commence a )?(brule|crame)\b(?! (plus|pas|jamais))")
SKIN_FEELS = re.compile(
    r"\b(poil|poils|peau|yeux|urticant|urticants|urticante|urticantes|chenille|chenilles|gratte|grattent|"
    r"demange|demangent|piqure|piqures|ortie|orties|soleil)\b"
)
# An event said as a possibility ("si elle tombe sur quelqu'un", "ça pourrait renverser un enfant") is a hazard to
# report, not an emergency happening now.
HYPOTHETICAL = re.compile(
    r"\b(si|s il|s ils|pourrait|pourraient|risque de|risquent de|peut|peuvent|au cas ou|un jour|des fois que)\b"
)
# Gas told by its smell, as the gas company describes it, unless the smell is a bin's or a sewer's.
ROTTEN_EGGS = re.compile(r"\b(odeur|odeurs|sent|sens|pue|puait|schlingue)\b.{0,25}\b(oeuf|oeufs) pourris?\b")
SMELLY_THINGS = re.compile(
    r"\b(poubelle|poubelles|conteneur|conteneurs|benne|bennes|ordures|dechets|egout|egouts|caniveau|canal|"
    r"station d epuration|fosse)\b"
)
TELECOM = re.compile(r"\b(telephone|telephonique|telecom|fibre|internet|adsl|orange|sfr|free|bouygues|tele)\b")
# A person in a situation that may be an emergency, without the words that say so ("quelqu'un est tombé dans le
# trou", "un enfant a glissé"): the bot asks one direct question rather than guess either way.
MAYBE_EMERGENCY = re.compile(
    rf"\b{_PERSON}{_AND_PRONOUN} (est|sont|a|ont|s est|se sont|vient de|viennent de) (tombe|tombee|tombes|tombees|"
    r"glisse|glissee|"
    r"chute|chutee|trebuche|fait mal|fait renverser|blesse|coince|coincee|bloque|bloquee|pris|prise)"
    r"|\b(odeur|sent|sens) (bizarre|chimique|de brule|le brule)\b|\bfumee\b|\b(fil|fils|cable|cables)\b.{0,30}"
    r"\b(au sol|par terre|a terre|pend|pendent|arrache|traine|trainent)\b"
)
# "J'ai mal tapé", "il a mal compris": something done badly, no pain.
_DONE_BADLY = (
    r"(?:tape|tapee|tapes|compris|comprise|entendu|entendue|ecrit|ecrite|note|notee|lu|lue|prononce|"
    r"explique|exprime|epele|fait|faite|parle|donne|donnee|retenu|compte|calcule|saisi|saisie|indique|"
    r"indiquee|mis|mise|gare|garee|range|rangee|ferme|fermee|regle|reglee|dormi|copie|recopie)"
)
# Words that say someone is hurt only when they are about a person: "elle bouge plus" may be a fallen branch, "il a
# mal" a sick tree. They count when the same sentence names a person ("ma voisine est tombée, elle se relève pas").
AMBIGUOUS_INJURY = re.compile(
    r"\b(bouge plus|ne bouge pas|bouge pas|bouge meme plus|se releve pas|se releve plus|peut pas se relever|"
    r"repond plus|repond pas|reagit plus|reagit pas|"
    r"peut plus se relever|arrive pas a se relever|(a|ai) (tres |trop )?mal|"
    r"(arrive|arrivent|peut|peuvent) (pas|plus) a? ?(remonter|sortir)|"
    r"(jambe|bras|cheville|poignet|tete) (toute |tout )?(tordue|tordu|cassee|casse|en sang|ouverte))\b"
)
PERSON_MENTION = re.compile(rf"\b{_PERSON}\b|\b(je|j|me|moi) (suis|me suis|ai|m)\b")
# Words that make DIET's "emergency" believable when no strong sign is there (only then: a caller saying "c'est
# urgent, le trou est énorme" is reporting a danger, and the danger question is asked anyway).
# "Le 18" is the fire brigade's number, unless an address goes on ("c'est le 18 boulevard Chave").
_NOT_AN_ADDRESS = (
    r"(?! (?:bis|ter|rue|avenue|av|boulevard|bd|chemin|route|impasse|allee|allees|cours|place|traverse|quai|montee|"
    r"square|lotissement|residence|de la|du|des)\b)"
)
WEAK_EMERGENCY = re.compile(
    r"\b(au secours|a l aide|(?<!d )urgence|pompiers|samu|ambulance|"
    # "c'est le 15", "devant le 18": a house number
    rf"(?:(?<!c est )(?<!devant )le (?:15|18|112)\b{_NOT_AN_ADDRESS})|"
    r"vite venez|venez vite|en train de mourir)\b"
)

# Problems on private property: the city does not repair them (landlord, plumber, syndic, water company).
_PRIVATE = re.compile(
    "|".join(
        (
            r"(?<!devant )(?<!en face de )(?<!pres de )(?<!a cote de )(?<!derriere )(?<!vers )(?<!pas loin de )"
            r"(?<!rue de )(?<!la rue de )(?<!sortie de )(?<!en bas de )(?<!coin de )(?<!bout de )(?<!de )"
            # "le chemin qui descend chez nous": the way that leads there is the street
            r"(?<!descend )(?<!monte )(?<!mene )(?<!va )(?<!jusqu a )(?<!passe )(?<!arrive )"
            r"\bchez (moi|nous)\b",
            r"\b(dans|chez) (mon|ma|notre|mes|nos) (appartement|appart|maison|cuisine|salle de bain|salle de bains|"
            r"chambre|salon|logement|cave|garage|jardin|piscine|terrasse|balcon|toit|grenier|villa|studio|wc|toilettes|"
            r"copropriete|residence privee|propriete|immeuble)\b",
            r"\b(mon|ma|mes|notre|nos) (evier|lavabo|baignoire|douche|chaudiere|chauffe eau|ballon d eau chaude|"
            r"robinet|robinets|radiateur|radiateurs|compteur|chasse d eau|plafond|plomberie|tuyauterie|volet|volets|"
            r"fenetre|fenetres|porte d entree|interphone|digicode|ascenseur|boite aux lettres|toilettes|wc|"
            r"ordinateur|television|tele|electricite|cumulus|climatisation|clim)\b",
            r"\b(de|du) (mon|ma|notre|nos) (cuisine|salle de bain|salle de bains|chambre|salon|cave|grenier|wc|"
            r"toilettes|baignoire|douche)\b",
            # "à côté de ma maison", "en face de mon immeuble": beside a home is the street; a room is inside it
            r"(?<!cote )(?<!face )(?<!pres )(?<!long )(?<!loin )(?<!bout )(?<!devant )(?<!sortie )"
            r"\b(de|du) (mon|ma|notre|nos) (appartement|appart|maison|logement|studio|villa)\b",
            r"\b(le|du|au|mon|notre) plafond\b|\bles murs de (mon|ma|notre|chez)\b",
            # Equipment of a private building, whoever's it is ("l'interphone de l'immeuble").
            r"\bl? ?(interphone|interphones|digicode|visiophone)\b",
            r"\b(ascenseur|hall|cage d escalier|parties communes|porte du hall|boite aux lettres) (de|du|d) "
            r"(mon|ma|notre|nos|l|la) (immeuble|residence|batiment|copropriete|bloc)\b",
            r"\bsous (l|mon) evier\b|\bdegat des eaux\b|\bdegats des eaux\b|\bmon (proprietaire|bailleur|syndic|"
            r"gardien|locataire)\b|\b(le|au|du) syndic\b|\bmon voisin du dessus\b|\bvoisins? du dessous\b",
        )
    )
)

# Requests for another service. Strong topics are out of scope even when a taxonomy word is there ("la taxe
# d'ordures ménagères"), unless a problem is described too; weak ones only when no taxonomy word is heard.
_STRONG_TOPICS = re.compile(
    "|".join(
        (
            r"\b(taxe|taxes|impot|impots|fiscal|fiscale|facture|factures|facturation|prelevement|prelevements|"
            r"rembourse|rembourser|remboursement|remboursee?|tarif|tarifs|payer|paye pas|paiement|payement|"
            r"cotisation|loyer|loyers|apl|caf|pole emploi|france travail|allocation|allocations|rsa|mutuelle|secu|"
            # "je suis retraité": the caller is retired, asks nothing of the pension office
            r"(?<!suis )(?<!a la )(?<!en )(?<!un )(?<!jeune )retraite|"
            r"securite sociale|carte vitale)\b",
            r"\b(amende|amendes|contravention|contraventions|pv|proces verbal|fourriere|enlevee par la fourriere|"
            r"radar flash|flashe|flashee|flasher|flashes|points de permis)\b",
            r"\b(passeport|carte d identite|carte grise|permis de conduire|etat civil|acte de naissance|acte de deces|"
            r"acte de mariage|livret de famille|mariage|pacs|se marier|naissance|deces|reconnaissance|nationalite|"
            r"titre de sejour|prefecture|liste electorale|listes electorales|voter|vote|elections|recensement|"
            r"attestation|certificat|justificatif|legaliser|legalisation|procuration)\b",
            r"\b(inscrire|inscription scolaire|inscription a l ecole|inscription a la cantine|reinscription|"
            r"cantine|periscolaire|centre aere|centre de loisirs|"
            r"garderie|place en creche|place a la creche|ecole de mon fils|ecole de ma fille|maitresse|"
            r"vacances scolaires|bourse|bourses)\b",
            r"\b(horaire|horaires|a quelle heure|quelle heure|quel jour|quels jours|c est quand|"
            r"jusqu a quand|jusqu a quelle heure|ferme a|ferme quand|heures d ouverture|joindre|"
            r"numero de telephone (de|du|des)|comment faire pour|comment on fait|qu est ce qu il faut faire pour|"
            r"renseignement|"
            r"renseignements|information sur|informations sur)\b",
            # Questions about opening hours, schedules, how/where/when to do something, even naming a facility or
            # a kind of waste: "la déchetterie est ouverte le dimanche ?", "où je peux jeter un vieux frigo ?".
            r"\b(est|sont|c est|elle est|il est|elles sont|ils sont) (bien |encore |toujours )?"
            r"(ouvert|ouverte|ouverts|ouvertes) (le|les|ce|cette|aujourd hui|demain|dimanche|lundi|mardi|mercredi|"
            r"jeudi|vendredi|samedi|en|pendant|a|jusqu|entre|quand|tous)\b",
            r"\b(ouvre|ouvrent|ferme|ferment) (a quelle|quand|le dimanche|le samedi|le lundi|le week end|a midi)\b",
            r"\b(jours?|heures?|horaires?) d (ouverture|ouvertures)\b",
            r"\bjours? de (collecte|ramassage|passage|sortie)\b",
            r"\b(je voudrais|je voulais|j aimerais|je veux|je souhaiterais) (savoir|connaitre|me renseigner|"
            r"des informations|une information|un renseignement)\b",
            r"\b(ou|comment|quand) (est ce que |est ce qu |c est que |qu )?(je peux|je dois|on peut|on doit|il faut|"
            # "… ou on va me facturer ?": "ou" folded from "or", the future of a verb after it, no "where do we go"
            r"faut il|puis je|peut on|dois je|je fais|on fait|je vais(?! (?:me|te|nous|vous|lui|leur)\b)|"
            r"on va(?! (?:me|te|nous|vous|lui|leur)\b)|j amene|j emmene|je jette|on jette|"
            r"je depose|on depose|je mets|on met)\b",
            r"\b(est ce que|est ce qu) (je peux|on peut|vous prenez|vous acceptez|ils prennent|ils acceptent|"
            r"elle prend|elle accepte|la dechetterie|les dechetteries)\b",
            r"\b(prend|prennent|accepte|acceptent|recupere|recuperent|reprend|reprennent) (les|des|aussi les|le|la)\b"
            r".{0,40}\b(dechetterie|dechetteries|decheterie)\b"
            r"|\b(dechetterie|dechetteries|decheterie)\b.{0,40}\b(prend|prennent|accepte|acceptent|recupere|"
            r"recuperent|reprend|reprennent|ouvert|ouverte|ouvre)\b",
            r"\b(quand|quel jour|a quelle heure) (est ce que |est ce qu )?(passe|passent|vient|viennent|ramasse|"
            r"ramassent|sont ramasses|est ramasse|a lieu|ouvre|ferme)\b",
            r"\b(abonnement|abonner|resilier|resiliation|billet|billets|ticket|tickets|titre de transport|pass|"
            r"carte de bus|rtm|sncf|tgv|avion|aeroport|greve)\b",
            r"\b(logement social|hlm|demande de logement|urbanisme|permis de construire|declaration de travaux|"
            r"cadastre|sans autorisation|sans permis|plan local)\b",
            r"\b(meteo|pizza|restaurant|taxi|uber|pharmacie de garde|vaccin|job|emploi|stage|embauche|"
            r"candidature|travailler chez vous|recrute|recrutement)\b",
            r"\b(j ai perdu|on a perdu|il a perdu|elle a perdu|perdu mon|perdu ma|perdu mes|objets trouves|"
            r"objet trouve|"
            r"oublie mon|oublie ma|oublie mes|cambriole|cambriolage|cambrioleur|plainte|porter plainte|escroquerie|"
            r"arnaque|agresse|agression)\b",
            r"\b(chien|chiens|chat|chats) (du|des|de la|de mon|de ma) (voisin|voisins|voisine|voisines|d a cote)\b",
            # "le mur anti-bruit" is a wall, not a noise
            r"\b(?<!\banti )(aboie|aboient|aboyer|tapage|tapage nocturne|harcele|harcelement|bruit|bruits|vacarme|"
            r"rodeo|rodeos)\b",
        )
    )
)
_WEAK_TOPICS = re.compile(
    # An appointment is another service's only when nothing of the street is said: "décaler mon rendez-vous", not
    # "je file à un rendez-vous, le lampadaire est par terre".
    r"\b(rendez vous|rdv|voisin|voisins|voisine|voisines|odeur de cuisine|internet|wifi|"
    r"telephone|portable|edf|engie|electricite|coupure de courant|courant|chauffage|"
    r"facteur|colis|courrier|la poste|banque|assurance|avocat|notaire|divorce|"
    r"pension|dechetterie|dechetteries|encombrant a domicile|sac jaune|sacs jaunes|"
    r"composteur|calendrier|collecte|jours de collecte|ouvert|ouverte|ouverts|ouvre|"
    r"ferme|fermee|le train|les trains|en retard|retard|(?<!tout )a l heure|passe jamais|passe plus|"
    r"bus|tram|tramway|metro|ligne|navette|fete|fetes|soiree|soirees|musique|hurle|"
    r"hurlent|crie|crient|dispute|disputent|engueulent|insulte|insultent|medecin|docteur|"
    r"cinema|concert|match|piscine municipale|bibliotheque|mediatheque|musee|prefecture|"
    r"vole|volee|voles|volees|vol|perdu|perdue|mairie|dossier|papiers|formulaire|"
    r"courrier|lettre|mail|site internet|application)\b"
)
# Words that describe something wrong in the street: with them, a topic word does not make a call out of scope.
PROBLEM_PREDICATES = re.compile(
    r"\b(casse|cassee|casses|cassees|abime|abimee|abimes|abimees|degrade|degradee|en panne|marche plus|"
    r"marche pas|fonctionne plus|fonctionne pas|hors service|eteint|eteinte|eteints|arrache|arrachee|"
    r"tombe|tombee|tombes|tombees|renverse|renversee|deborde|debordent|pas ete ramasse|pas ete ramassee|"
    r"pas ete ramasses|pas ete ramassees|pas ramasse|pas ramasses|jamais ramasse|traine|trainent|bouche|"
    r"bouchee|fuit|fuite|inonde|inondee|trou|trous|defonce|defoncee|tague|tagues|sale|sales|degueulasse|"
    r"depose|deposes|abandonne|abandonnee|abandonnes|plein|pleine|pleins|pleines|vandalise|vandalisee|bouge|"
    r"bougent|claque|claquent|descelle|descellee|mal fixe|branle|deposent|jettent|balancent|depot sauvage|"
    r"deverse|deverses|deversee|deversees|deversent|balance|balances|balancee|balancees|"
    r"depots sauvages|decharge sauvage|recouvert|recouverte|recouverts|recouvertes)\b"
)


Span = tuple[int, int]


def emergency_evidence(
    folded: str, nlu_says_emergency: bool = False, burnt_out: bool = False, burning: bool = True
) -> list[Span]:
    """Where `fold`ed words say an immediate emergency: strong words always, weaker ones ("au secours",
    "pompiers") only when the NLU also read an emergency. Whether each is said or denied is the parse's job."""
    spans = [
        m.span()
        for m in STRONG_EMERGENCY.finditer(folded)
        if not _said_as_possible(folded, m.start()) and not (burnt_out and m.group(0).startswith("tout "))
    ]
    if burning and not SKIN_FEELS.search(folded):
        spans += [m.span() for m in BURNING_NOW.finditer(folded)]
    if not SMELLY_THINGS.search(folded):
        spans += [m.span() for m in ROTTEN_EGGS.finditer(folded)]
    if not TELECOM.search(folded):
        spans += [m.span() for m in CABLE_DOWN.finditer(folded)]
    if PERSON_MENTION.search(folded):
        spans += _injury_spans(folded, sure=True)
    if nlu_says_emergency:
        spans += [m.span() for m in WEAK_EMERGENCY.finditer(folded)]
    return spans


# After a noun "tout brûlé" is a thing burnt out long ago ("un scooter tout brûlé"), not "tout brûle".
def burnt_out(text: str) -> bool:
    """ "Un scooter tout brûlé": a thing burnt long ago, told by the participle's accent, which folding loses
    ("tout brûle" is a fire burning now)."""
    lowered = text.lower()
    return _BURNT_PARTICIPLE.search(lowered) is not None and _BURNING.search(lowered) is None


_BURNT_PARTICIPLE = re.compile(r"\btout(?:e|es)? (?:brûlé|brûlée|brûlés|brûlées|cramé|cramée|cramés|cramées)(?!\w)")
_BURNING = re.compile(r"\btout (?:brûle|brule|brûlent|crame)(?!\w)")


def _said_as_possible(folded: str, start: int) -> bool:
    """Whether a conditional opens the clause just before `start` ("si elle tombe sur quelqu'un")."""
    before = re.split(r"[.!?;,]| mais | et puis ", folded[max(0, start - 40) : start])[-1]
    return HYPOTHETICAL.search(before) is not None


def possible_emergency_evidence(folded: str) -> list[Span]:
    """Where words say someone may be in danger now, without saying it surely: worth one direct question."""
    patterns = (MAYBE_EMERGENCY, WEAK_EMERGENCY)
    spans = [m.span() for pattern in patterns for m in pattern.finditer(folded)] + _injury_spans(folded)
    if not _SINCE_THEN.search(folded):
        # "Ils ont mis le feu aux poubelles": burning now or burnt out, one direct question tells; not when the
        # caller says it is over ("la semaine dernière", "la carcasse").
        spans += [m.span() for m in SET_ALIGHT.finditer(folded)]
    return spans


# A fire set by someone: asked about here, and no traffic light for the category (understanding).
SET_ALIGHT = re.compile(r"\b(?:mis|met|mettent|mettre|fout|foutu|foutent|foutre) le feu\b")
_SINCE_THEN = re.compile(
    r"\b(?:hier|semaine|mois|jours|dernier|derniere|deja|carcasse|calcine\w*|eteint\w*|cendres?|reste|restes|chaque"
    r"|matin|nuit|noire?|noires?)\b"
)


# Someone who can no longer go out on foot or by car: the way is blocked, nobody is surely trapped; with water, fire
# or gas in the line the caller is asked whether someone is in danger.
_WAY_BLOCKED = re.compile(
    r" (?:de chez (?:elle|lui|eux|nous|moi) )?(?:a pied|en voiture|a velo|en fauteuil|"
    r"avec (?:la|le|sa|son) (?:poussette|deambulateur|fauteuil|voiture|canne))\b"
)
_TRAPPING = re.compile(r"\b(?:eau|inond\w*|feu|fumee|gaz|flamm\w*|brul\w*|monte|montent)\b")


# "Sortir sa voiture", "sortir les poubelles": something taken out, nobody shut in.
_TAKES_OUT = re.compile(r" (?:sa|son|ses|ma|mon|mes|la|le|les|leur|leurs|notre|nos|votre|vos)\b")
# What "il bouge plus" can be said of besides a person: a vehicle left there, a post, a branch.
_STILL_THING = re.compile(
    r"\b(?:voitures?|camions?|camionnettes?|scooters?|motos?|vehicules?|epaves?|bus|caravanes?|camping cars?|"
    r"fourgons?|remorques?|bateaux?|poteaux?|panneaux?|arbres?|branches?|lampadaires?|barrieres?|bornes?|"
    r"conteneurs?|bennes?)\b"
)
# What is said only of a vehicle: parked, its tyres, its number plate.
_PARKED = re.compile(
    r"\b(?:est|sont) (?:garee?s?|stationnee?s?)\b"
    r"|\b(?:pneus?|roues?) (?:(?:ils|elles) )?(?:sont |est )?(?:a plat|creve|crevee?s?)\b"
    r"|\bplaques? d immatriculation\b"
)
# A body's state: what does not move is someone.
_BODY_STILL = re.compile(
    r"\b(?:affale\w*|allonge\w*|effondre\w*|evanoui\w*|inconscient\w*|volant|siege|respire\w*|repond\w*|reagi\w*|"
    r"yeux|tete|malaise)\b"
)
_COMPLEMENT = re.compile(
    r"\b(?:de|du|des|d|(?<!y )a|au|aux|sous|dans|sur|devant|derriere|contre|avec|par)"
    r"(?: (?:la|le|les|l|sa|son|ses|ma|mon|mes|une|un|leur))? $"
)
_PERSON_WORD = re.compile(
    rf"\b{_PERSON}\b|\b(?:il|elle) (?:est|a ete) (?:tombe|tombee)\b|"
    r"\b(?:le|la|un|une|mon|ma|son|sa|du|de la|les|des|au|a la) (?:conducteur|conductrice|chauffeur|motard|motarde|"
    r"cycliste|pieton|pietonne|gars|mec|type|papi|papy|mamie|mami|monsieur|dame|homme|femme|gamin|gamine|enfant|"
    r"petit|petite|fils|fille|mari|voisin|voisine|passant|passante|ouvrier|livreur|jeune|vieux|vieille|personne|"
    r"bebe|ado|minot|minote|pere|mere|grand pere|grand mere|fils|copain|copine|collegue|client|cliente)\b"
)


def _said_of_a_thing(folded: str, start: int) -> bool:
    """Whether what does not move is a thing: a vehicle or an object is named before and no person anywhere in the
    line ("un camion garé là depuis trois semaines, il bouge pas")."""
    if _PERSON_WORD.search(folded):
        return False  # a person named anywhere in the line may be the one who does not move
    if _PARKED.search(folded) and not _BODY_STILL.search(folded):
        # "elle est garée là depuis deux mois, elle bouge plus": the vehicle named a turn before; not "il est garé en
        # double file, affalé sur le volant, il bouge plus" (the driver)
        return True
    before = folded[max(0, start - 120) : start]
    # A thing after a preposition is no subject ("le monsieur de la voiture, il bouge plus").
    return any(not _COMPLEMENT.search(before, 0, m.start()) for m in _STILL_THING.finditer(before))


_DONE_BADLY_AFTER = re.compile(rf" {_DONE_BADLY}\b")
# A fall in the line: "elle a glissé, elle a mal tapé la tête" is pain whatever verb follows "mal".
_FALL = re.compile(r"\b(?:tomb\w*|gliss\w*|trebuch\w*|chute\w*|renvers\w*|bless\w*|cogn\w*|heurt\w*|pris les pieds)\b")


def _injury_spans(folded: str, sure: bool = False) -> list[Span]:
    blocked_only = sure or _TRAPPING.search(folded) is None
    spans = []
    for m in AMBIGUOUS_INJURY.finditer(folded):
        if m.group(0).endswith("mal") and _DONE_BADLY_AFTER.match(folded, m.end()) and not _FALL.search(folded):
            continue  # "j'ai mal tapé le numéro": done badly, no pain
        if m.group(0).endswith("sortir") and (
            _TAKES_OUT.match(folded, m.end()) or (blocked_only and _WAY_BLOCKED.match(folded, m.end()))
        ):
            continue
        if _said_of_a_thing(folded, m.start()):
            continue
        spans.append(m.span())
    return spans


def is_emergency(text: str, nlu_says_emergency: bool = False) -> bool:
    """Words of an immediate emergency, negated or not (the understanding step reads their polarity)."""
    return bool(emergency_evidence(fold(text), nlu_says_emergency, burnt_out(text)))


def is_private_property(text: str) -> bool:
    """A problem inside a home or a private building ("le robinet de ma cuisine goutte"); "devant chez moi" is the
    street."""
    folded = fold(text)
    return any(not _FELT_AT_HOME.search(_clause_before(folded, m.start())) for m in _PRIVATE.finditer(folded))


# Where the caller sees, hears or feels a street's problem is not where it is ("on dirait une discothèque jusque
# dans ma chambre", "la lumière rentre jusque dans mon salon").
_FELT_AT_HOME = re.compile(
    r"\b(?:comme (?:un|une|des|en|au|si)|on dirait|on se croirait|jusque|jusqu|eclaire|eclairent|eblouit)\b"
)


def _clause_before(folded: str, start: int) -> str:
    return re.split(r"[.!?;,]| mais | et ", folded[max(0, start - 60) : start])[-1]


# The caller's own account with a supplier: whatever problem it hints at is behind their meter, not in the street.
_OWN_ACCOUNT = re.compile(
    r"\b(?:ma|mes|notre|nos) (?:facture|factures|facturation|consommation)\b|\b(?:mon|notre) abonnement\b"
)


# Words that put a problem in the street ("une fuite sur le trottoir, ça va grimper nos factures").
_IN_THE_STREET = re.compile(
    r"\b(?:rue|trottoir|trottoirs|route|chaussee|chemin|avenue|boulevard|bd|av|place|parking|caniveau|voie|"
    r"devant chez|en bas de chez|quartier|carrefour|rond point)\b"
)


def describes_problem(text: str) -> bool:
    return PROBLEM_PREDICATES.search(fold(text)) is not None


def names_other_service(text: str, taxonomy_matched: bool, place_named: bool = False) -> bool:
    """A request for another service: a strong topic without a problem described, or a weak topic with nothing
    of the taxonomy."""
    folded = fold(text)
    in_the_street = place_named or _IN_THE_STREET.search(folded) is not None
    if _OWN_ACCOUNT.search(folded) and not (taxonomy_matched and describes_problem(text) and in_the_street):
        return True  # "ma facture a grimpé, sans doute une fuite": the caller's own bill, no street said
    if _STRONG_TOPICS.search(folded) and not (taxonomy_matched and describes_problem(text)):
        return True
    return not taxonomy_matched and _WEAK_TOPICS.search(folded) is not None
