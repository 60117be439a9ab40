"""The simulated people, each written from a behaviour seen in real users.

Everyone registers with a demo contract (several people share a company, each with an
e-mail of their own) and answers in their own style; the script holds what makes them
who they are: a digression, a request for a person, a correction, a change of mind.
"""

from __future__ import annotations

from datetime import date

from tests.simulation.dialogue import Question as Q
from tests.simulation.person import (
    BERNARD,
    DEMO,
    DURAND,
    LEFEVRE,
    MARTIN,
    MOREAU,
    PETIT,
    PHARMACIE,
    PROVENCE,
    AnswerForm,
    Identity,
    Later,
    Person,
    Upload,
)
from tests.simulation.styles import AllAtOnce, NoAccents, OneWord, Polite, Sentences, Sms, Typos

PDF = (("pdf_recto_verso",),)  # both sides of a card in one PDF
FRONT_THEN_BACK = (("png_scan",), ("jpeg_scan_uppercase_extension",))
BOTH_SIDES_AT_ONCE = (("png_scan", "jpeg_scan_uppercase_extension"),)
PASSPORT_PHOTO = (("jpeg_photo_with_exif",),)
PASSPORT_SCAN = (("pdf_one_page",),)
# People who give several answers per message finish in this many messages at most.
SEVERAL_FIELDS_LIMIT = 8


def _person(name: str, description: str, me: Identity, style: object, **extra: object) -> Person:
    return Person(name, description, me, style, **extra)  # type: ignore[arg-type]


odile = Identity(
    MARTIN,
    "Mme",
    "Odile",
    "Garnier",
    date(1961, 2, 3),
    "06 21 43 65 87",
    "Gérante",
    "02 31 45 67 89",
    "passport",
    "Italie",
)
bernard = Identity(
    LEFEVRE,
    "M.",
    "Bernard",
    "Lefort",
    date(1975, 9, 17),
    "06 23 45 67 89",
    "Responsable administratif et financier",
    "04 78 12 34 56",
)
kevin = Identity(
    DURAND,
    "M.",
    "Kévin",
    "Roche",
    date(1990, 6, 5),
    "07 81 23 45 67",
    "Chef d'équipe",
    "01 45 67 89 10",
)
helene = Identity(
    MOREAU,
    "Mme",
    "Hélène",
    "Lefèvre",
    date(1983, 2, 12),
    "06 98 76 54 32",
    "Directrice générale",
    "05 56 12 34 56",
    "residence_permit",
)
lucie = Identity(
    PROVENCE,
    "Mme",
    "Lucie",
    "Rousseau",
    date(1988, 11, 21),
    "07 52 11 22 33",
    "Comptable",
    "04 91 23 45 67",
)
yann = Identity(
    PETIT, "M.", "Yann", "Le Gall", date(1972, 1, 30), "06 11 22 33 44", "Gérant", "02 98 12 34 56"
)
sophie = Identity(
    PHARMACIE,
    "Mme",
    "Sophie",
    "Marchand",
    date(1980, 8, 8),
    "07 61 23 45 67",
    "Pharmacienne titulaire",
    "04 42 12 34 56",
)
thomas = Identity(
    BERNARD,
    "M.",
    "Thomas",
    "Petit",
    date(1985, 4, 1),
    "06 45 67 89 01",
    "Directeur technique",
    "03 20 12 34 56",
)
amandine = Identity(
    DEMO, "Mme", "Amandine", "Roux", date(1979, 7, 4), "06 31 42 53 64", "DRH", "01 53 24 68 10"
)
jean_baptiste = Identity(
    MARTIN,
    "M.",
    "Jean-Baptiste",
    "Fontaine",
    date(1968, 12, 24),
    "07 68 12 90 34",
    "Cogérant",
    "02 31 98 76 54",
)
nadia = Identity(
    LEFEVRE,
    "Mme",
    "Nadia",
    "Benali",
    date(1986, 3, 15),
    "06 72 83 94 05",
    "Responsable des ressources humaines",
    "04 78 98 76 54",
)
marc = Identity(
    DURAND,
    "M.",
    "Marc",
    "Aubert",
    date(1970, 10, 9),
    "06 07 08 09 10",
    "Expert-comptable",
    "01 48 87 65 43",
    "passport",
    "Belgique",
)
chantal = Identity(
    MOREAU,
    "Mme",
    "Chantal",
    "Perrin",
    date(1958, 5, 28),
    "07 58 69 70 81",
    "Secrétaire de direction",
    "05 61 22 33 44",
)
fabrice = Identity(
    PROVENCE,
    "M.",
    "Fabrice",
    "Gauthier",
    date(1977, 8, 19),
    "06 84 73 62 51",
    "Chef de chantier",
    "04 67 58 23 19",
    "passport",
    "Espagne",
)
isabelle = Identity(
    PETIT,
    "Mme",
    "Isabelle",
    "Mercier",
    date(1973, 11, 2),
    "06 19 28 37 46",
    "Assistante de gestion",
    "02 40 12 56 78",
)
olivier = Identity(
    PHARMACIE,
    "M.",
    "Olivier",
    "Chevalier",
    date(1981, 1, 14),
    "06 60 50 40 30",
    "Pharmacien adjoint",
    "03 26 45 78 12",
)
camille = Identity(
    BERNARD,
    "Mme",
    "Camille",
    "Faure",
    date(1992, 9, 30),
    "07 77 88 99 00",
    "Chargée de clientèle",
    "01 39 56 78 90",
)
julien = Identity(
    DEMO,
    "M.",
    "Julien",
    "Girard",
    date(1979, 3, 14),
    "06 13 57 91 35",
    "Directeur commercial",
    "04 76 21 43 65",
)
emilie = Identity(
    MARTIN,
    "Mme",
    "Émilie",
    "Lambert",
    date(1987, 6, 22),
    "06 28 46 82 64",
    "Vendeuse",
    "02 31 11 22 33",
)
gerard = Identity(
    LEFEVRE,
    "M.",
    "Gérard",
    "Dupont",
    date(1955, 4, 8),
    "06 36 25 14 03",
    "Président",
    "04 78 55 66 77",
)
valerie = Identity(
    DURAND,
    "Mme",
    "Valérie",
    "Blanc",
    date(1976, 12, 5),
    "06 41 52 63 74",
    "Collaboratrice comptable",
    "01 48 12 34 56",
)
pierre = Identity(
    MOREAU,
    "M.",
    "Pierre",
    "Lemoine",
    date(1984, 2, 29),
    "07 59 48 37 26",
    "Menuisier",
    "05 56 98 76 54",
)
agnes = Identity(
    PROVENCE,
    "Mme",
    "Agnès",
    "Colin",
    date(1969, 7, 17),
    "06 85 74 63 52",
    "Responsable des achats",
    "04 91 98 76 54",
)
remi = Identity(
    PETIT,
    "M.",
    "Rémi",
    "Vidal",
    date(1991, 10, 11),
    "06 95 84 73 62",
    "Mécanicien",
    "02 98 76 54 32",
)
laetitia = Identity(
    PHARMACIE,
    "Mme",
    "Laetitia",
    "Roussel",
    date(1989, 5, 3),
    "06 27 38 49 50",
    "Préparatrice",
    "04 42 98 76 54",
)
hugues = Identity(
    BERNARD,
    "M.",
    "Hugues",
    "de Villiers",
    date(1963, 8, 27),
    "07 62 73 84 95",
    "Directeur général",
    "03 59 61 72 83",
)
martine = Identity(
    DEMO,
    "Mme",
    "Martine",
    "Robin",
    date(1960, 1, 19),
    "06 50 61 72 83",
    "Comptable",
    "05 34 45 56 67",
)
didier = Identity(
    MARTIN,
    "M.",
    "Didier",
    "Masson",
    date(1966, 9, 15),
    "06 18 29 30 41",
    "Boulanger",
    "02 31 55 44 33",
)
sandrine = Identity(
    LEFEVRE,
    "Mme",
    "Sandrine",
    "Picard",
    date(1974, 3, 6),
    "06 73 84 95 06",
    "Exploitante transport",
    "04 50 61 72 83",
)
patrick = Identity(
    DURAND,
    "M.",
    "Patrick",
    "Brunet",
    date(1959, 11, 30),
    "06 14 25 36 47",
    "Associé",
    "01 34 45 56 67",
)
aurelie = Identity(
    MOREAU,
    "Mme",
    "Aurélie",
    "Meunier",
    date(1990, 4, 25),
    "06 52 63 74 85",
    "Assistante administrative",
    "05 56 44 33 22",
)
benoit = Identity(
    PROVENCE,
    "M.",
    "Benoît",
    "Renaud",
    date(1982, 6, 13),
    "07 53 64 75 86",
    "Responsable d'agence",
    "04 91 44 55 66",
    "passport",
    "Allemagne",
)
mathilde = Identity(
    PETIT,
    "Mme",
    "Mathilde",
    "Arnaud",
    date(1994, 12, 1),
    "06 63 74 85 96",
    "Secrétaire",
    "02 98 44 55 66",
)
gregory = Identity(
    PHARMACIE,
    "M.",
    "Grégory",
    "Fleury",
    date(1983, 7, 7),
    "06 74 85 96 07",
    "Pharmacien",
    "04 42 44 55 66",
)
marie_claire = Identity(
    BERNARD,
    "Mme",
    "Marie-Claire",
    "Saint-Martin",
    date(1971, 2, 18),
    "06 26 37 48 59",
    "Directrice financière",
    "03 20 44 55 66",
    "passport",
    "Pologne",
)
anne = Identity(
    DEMO,
    "Mme",
    "Anne",
    "Caron",
    date(1978, 10, 20),
    "06 37 48 59 60",
    "Office manager",
    "01 60 79 88 97",
)
christophe = Identity(
    MARTIN,
    "M.",
    "Christophe",
    "Giraud",
    date(1980, 5, 9),
    "06 48 59 60 71",
    "Gérant",
    "02 31 66 77 88",
)
karima = Identity(
    LEFEVRE,
    "Mme",
    "Karima",
    "Haddad",
    date(1993, 8, 31),
    "07 54 65 76 87",
    "Assistante logistique",
    "04 78 66 77 88",
)

PEOPLE: list[Person] = [
    # One word at a time.
    _person(
        "Odile",
        "answers every question with a single word or value",
        odile,
        OneWord(),
        files=PASSPORT_PHOTO,
    ),
    _person(
        "Marie-Claire",
        "one-word answers, a compound first name and surname, a passport",
        marie_claire,
        OneWord(),
        files=PASSPORT_SCAN,
    ),
    # Full sentences.
    _person(
        "Bernard",
        "writes complete, careful sentences naming each thing he gives",
        bernard,
        Sentences(),
        opening=("Bonjour, je souhaite ouvrir l'espace client de notre société.",),
    ),
    # SMS style.
    _person(
        "Kévin",
        "writes like a text message, sends the front then the back of his card",
        kevin,
        Sms(),
        opening=("slt jveux cree mon espace client",),
        files=FRONT_THEN_BACK,
    ),
    _person(
        "Karima",
        "SMS style from the start, her SIREN and contract in her first message",
        karima,
        Sms(),
        opening=(
            f"bjr jveu creer lespace client siren {LEFEVRE.siren} contrat "
            f"{LEFEVRE.contract.lower()}",
        ),
    ),
    # No accents, typos.
    _person(
        "Hélène",
        "full sentences without a single accent, a residence permit",
        helene,
        NoAccents(),
        opening=("bonjour je voudrais creer l'espace de mon entreprise",),
    ),
    _person(
        "Lucie",
        "types fast: swapped and missing letters, both sides of her card at once",
        lucie,
        Typos(),
        opening=("bonjuor, je veu créer mon compte entrprise",),
        files=BOTH_SIDES_AT_ONCE,
    ),
    # Everything at once.
    _person(
        "Yann",
        "his first message says what he wants with the SIREN and the contract; "
        "then each step in one message",
        yann,
        AllAtOnce(),
        opening=(
            f"Bonjour, je veux créer l'espace client du garage : SIREN "
            f"{PETIT.siren_spaced}, contrat {PETIT.contract}",
        ),
        max_messages=SEVERAL_FIELDS_LIMIT,
    ),
    _person(
        "Sophie",
        "her first message gives her name, job, SIREN, contract and e-mail",
        sophie,
        AllAtOnce(),
        opening=(
            f"Bonjour, Sophie Marchand, pharmacienne titulaire. Je veux créer notre "
            f"espace : SIREN {PHARMACIE.siren}, contrat {PHARMACIE.contract}, mon "
            f"e-mail {sophie.email}",
        ),
        max_messages=SEVERAL_FIELDS_LIMIT,
    ),
    _person(
        "Thomas",
        "opens with a SIRET and the contract, then gives each step at once",
        thomas,
        AllAtOnce(),
        opening=(
            f"je voudrais créer mon espace client entreprise, SIRET 215 356 429 "
            f"00013 et contrat {BERNARD.contract}",
        ),
        max_messages=SEVERAL_FIELDS_LIMIT,
    ),
    _person(
        "Amandine",
        "gives her identity and her job title in one message, then e-mail and phone together",
        amandine,
        AllAtOnce(),
        opening=(
            f"Bonjour ! Création de notre espace client svp : SIREN "
            f"{DEMO.siren_spaced}, contrat {DEMO.contract}",
        ),
        replies={
            Q.CIVILITY: f"Madame Amandine Roux, née le 04/07/1979, portable "
            f"{amandine.mobile}, je suis DRH"
        },
        max_messages=SEVERAL_FIELDS_LIMIT,
    ),
    # Polite wrappers.
    _person(
        "Jean-Baptiste",
        "wraps every answer in courtesy: « bien sûr », « merci », « s'il vous plaît »",
        jean_baptiste,
        Polite(),
        opening=("Bonjour madame, je souhaiterais créer mon espace client, s'il vous plaît.",),
    ),
    # Digressions.
    _person(
        "Nadia",
        "asks why the SIREN is needed before giving it",
        nadia,
        Sentences(),
        script={Q.SIREN: ("pourquoi avez-vous besoin de mon numéro SIREN ?",)},
    ),
    _person(
        "Marc",
        "does not know where to find his SIREN and asks",
        marc,
        OneWord(),
        script={Q.SIREN: ("je ne sais pas où trouver le siren de ma boîte",)},
        files=PASSPORT_SCAN,
    ),
    _person(
        "Chantal",
        "asks where the contract number is written",
        chantal,
        Sentences(),
        script={Q.CONTRACT: ("Il se trouve où, ce numéro de contrat ?",)},
    ),
    _person(
        "Fabrice",
        "worries about what happens to his identity document",
        fabrice,
        Sentences(),
        script={Q.DOC_TYPE: ("Qu'allez-vous faire de la copie de mes papiers ? C'est sécurisé ?",)},
        files=PASSPORT_PHOTO,
    ),
    _person(
        "Isabelle",
        "asks why her birth date is needed",
        isabelle,
        Polite(),
        script={Q.BIRTH_DATE: ("En quoi ma date de naissance vous est-elle utile ?",)},
    ),
    _person(
        "Olivier",
        "asks which identity papers are accepted",
        olivier,
        OneWord(),
        script={Q.DOC_TYPE: ("vous prenez quels papiers d'identité ?",)},
    ),
    _person(
        "Camille",
        "asks what happens next before accepting the terms",
        camille,
        Sentences(),
        script={Q.CGU: ("Et une fois que j'ai accepté, il se passe quoi ?",)},
    ),
    _person(
        "Christophe",
        "pauses to look for his contract, comes back with « on continue ? », then gives it",
        christophe,
        Sentences(),
        script={
            Q.CONTRACT: (
                "un instant, je cherche le contrat dans mes papiers",
                "c'est bon, je l'ai sous les yeux, on continue ?",
            )
        },
        replies={Q.CONTRACT: f"Voilà : c'est le {MARTIN.contract}."},
    ),
    _person(
        "Patrick",
        "wonders whether he is talking to a robot",
        patrick,
        Sentences(),
        script={Q.CIVILITY: ("je parle à un robot, là ?",)},
    ),
    _person(
        "Anne",
        "thanks the assistant once her document is in",
        anne,
        Polite(),
        script={Q.CGU: ("Super, merci !",)},
    ),
    # Corrections.
    _person(
        "Julien",
        "gives a wrong birth date, then corrects it at the next question",
        julien,
        Sentences(),
        script={
            Q.BIRTH_DATE: (
                "13/04/1979",
                Later("pardon, je me suis trompé : je suis né le 14/03/1979"),
            )
        },
    ),
    _person(
        "Émilie",
        "gives a wrong mobile number, then corrects it",
        emilie,
        OneWord(),
        script={
            Q.MOBILE: (
                "06 55 44 33 22",
                Later(
                    f"attendez, je me suis trompée de numéro, mon portable c'est le {emilie.mobile}"
                ),
            )
        },
    ),
    _person(
        "Gérard",
        "misspells his surname, then spells it right",
        gerard,
        Sentences(),
        script={Q.LAST_NAME: ("Dupond", Later("non pardon, mon nom c'est Dupont avec un t"))},
    ),
    # A change of mind at the summary.
    _person(
        "Valérie",
        "at the summary, wants another e-mail address",
        valerie,
        Sentences(),
        script={
            Q.EMAIL: (f"v.blanc@{DURAND.domain}",),
            Q.SUMMARY: ("Non, je voudrais changer mon adresse e-mail.",),
            Q.FIELD_TO_CHANGE: ("l'adresse e-mail",),
        },
    ),
    _person(
        "Pierre",
        "says « non » to the summary, then says what to change",
        pierre,
        OneWord(),
        script={
            Q.MOBILE: ("06 99 88 77 66",),
            Q.SUMMARY: ("non",),
            Q.FIELD_TO_CHANGE: ("mon numéro de portable",),
        },
    ),
    _person(
        "Agnès",
        "at the summary, gives her real job title in the same message",
        agnes,
        Sentences(),
        script={
            Q.JOB: ("assistante",),
            Q.SUMMARY: ("Ah non, ma fonction c'est responsable des achats, pas assistante",),
            Q.FIELD_TO_CHANGE: ("ma fonction : responsable des achats",),
        },
    ),
    # Yes and no in many forms.
    _person(
        "Rémi",
        "says yes with « d'accord », « exact », « ça marche pour les conditions », « parfait »",
        remi,
        OneWord(),
        replies={
            Q.INVITATION: "d'accord",
            Q.COMPANY: "exact",
            Q.CGU: "ça marche pour les conditions",
            Q.SUMMARY: "parfait",
        },
    ),
    _person(
        "Laetitia",
        "says yes with « c'est bien ça », « je confirme », « ok pour moi »",
        laetitia,
        OneWord(),
        replies={
            Q.INVITATION: "ok pour moi",
            Q.COMPANY: "c'est bien ça",
            Q.CGU: "je confirme",
            Q.SUMMARY: "tout à fait",
        },
    ),
    _person(
        "Hugues",
        "accepts the terms and confirms the summary in long sentences",
        hugues,
        Sentences(),
        replies={
            Q.COMPANY: "Oui, il s'agit bien de mon entreprise.",
            Q.CGU: "Après lecture des conditions générales d'utilisation, je les "
            "accepte sans réserve.",
            Q.SUMMARY: "Oui, toutes les informations sont exactes, vous pouvez "
            "valider mon inscription.",
        },
    ),
    _person(
        "Aurélie",
        "answers the greeting's invitation with a plain « oui »",
        aurelie,
        OneWord(),
        opening=("bonjour",),
    ),
    _person(
        "Benoît",
        "answers the greeting's invitation with « allons-y »",
        benoit,
        OneWord(),
        opening=("salut",),
        replies={Q.INVITATION: "allons-y"},
        files=PASSPORT_PHOTO,
    ),
    # Asking for a person.
    _person(
        "Martine",
        "asks for a real person in the middle of the form, then declines",
        martine,
        Sentences(),
        script={Q.BIRTH_DATE: ("est-ce que je pourrais parler à un vrai conseiller ?",)},
        replies={Q.ADVISOR: "non merci, je vais continuer avec vous"},
    ),
    _person(
        "Didier",
        "asks for someone, then ignores the offer and answers the form",
        didier,
        OneWord(),
        script={
            Q.BIRTH_DATE: ("j'aimerais avoir quelqu'un au téléphone",),
            Q.ADVISOR: (AnswerForm(),),
        },
    ),
    _person(
        "Sandrine",
        "wants a human at the very start, then decides to go on alone",
        sandrine,
        Sentences(),
        script={Q.SIREN: ("j'aimerais mieux discuter avec une vraie personne",)},
        replies={Q.ADVISOR: "non finalement je me débrouille"},
    ),
    # Documents.
    _person(
        "Mathilde",
        "sends her card before saying which document it is",
        mathilde,
        Sentences(),
        script={Q.DOC_TYPE: (Upload(),)},
    ),
    # Another language first.
    _person(
        "Grégory",
        "starts in English, then switches to French",
        gregory,
        Sentences(),
        opening=(
            "Hi, can I open a customer account here please?",
            "ah pardon : je veux créer mon espace client",
        ),
    ),
]
