"""How users name identity documents and countries, in French, with or without accents."""

from __future__ import annotations

import re
import unicodedata

from bot.identifiers import fix_typos

DOCUMENT_LABELS = {
    "cni": "carte nationale d'identité",
    "passport": "passeport",
    "residence_permit": "titre de séjour",
}
# Documents with a front and a back: both sides are needed.
TWO_SIDED = frozenset({"cni", "residence_permit"})

ACCEPTED_DOCUMENTS = (
    "Les documents acceptés sont :\n"
    "• la carte nationale d'identité française (ancien modèle ou modèle 2021) ;\n"
    "• un passeport délivré par un pays de l'Union européenne ;\n"
    "• un titre de séjour délivré par la France."
)

# ISO 3166 code → French name, then the words (stems) users write for it.
EU_COUNTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "AT": ("Autriche", ("autriche", "autrichien")),
    "BE": ("Belgique", ("belgique", "belge")),
    "BG": ("Bulgarie", ("bulgarie", "bulgare")),
    "CY": ("Chypre", ("chypre", "chypriote", "cypriote")),
    "CZ": ("Tchéquie", ("tchequie", "republique tcheque", "tcheque")),
    "DE": ("Allemagne", ("allemagne", "allemand")),
    "DK": ("Danemark", ("danemark", "danois")),
    "EE": ("Estonie", ("estonie", "estonien")),
    "ES": ("Espagne", ("espagne", "espagnol")),
    "FI": ("Finlande", ("finlande", "finlandais")),
    "FR": ("France", ("france", "francais")),
    "GR": ("Grèce", ("grece", "grec")),
    "HR": ("Croatie", ("croatie", "croate")),
    "HU": ("Hongrie", ("hongrie", "hongrois")),
    "IE": ("Irlande", ("irlande", "irlandais")),
    "IT": ("Italie", ("italie", "italien")),
    "LT": ("Lituanie", ("lituanie", "lituanien")),
    "LU": ("Luxembourg", ("luxembourg",)),
    "LV": ("Lettonie", ("lettonie", "letton")),
    "MT": ("Malte", ("malte", "maltais")),
    "NL": ("Pays-Bas", ("pays bas", "hollande", "neerlandais", "hollandais")),
    "PL": ("Pologne", ("pologne", "polonais")),
    "PT": ("Portugal", ("portugal", "portugais")),
    "RO": ("Roumanie", ("roumanie", "roumain")),
    "SE": ("Suède", ("suede", "suedois")),
    "SI": ("Slovénie", ("slovenie", "slovene")),
    "SK": ("Slovaquie", ("slovaquie", "slovaque")),
}
# Countries users often name that are not in the European Union, for a precise answer.
OTHER_COUNTRIES: dict[str, tuple[str, ...]] = {
    "Royaume-Uni": ("royaume uni", "angleterre", "anglais", "britannique", "ecosse"),
    "Suisse": ("suisse",),
    "Norvège": ("norvege", "norvegien"),
    "Islande": ("islande", "islandais"),
    "Maroc": ("maroc", "marocain"),
    "Algérie": ("algerie", "algerien"),
    "Tunisie": ("tunisie", "tunisien"),
    "Sénégal": ("senegal", "senegalais"),
    "Turquie": ("turquie", "turc"),
    "États-Unis": ("etats unis", "usa", "americain"),
    "Canada": ("canada", "canadien"),
    "Chine": ("chine", "chinois"),
    "Russie": ("russie", "russe"),
    "Ukraine": ("ukraine", "ukrainien"),
    "Brésil": ("bresil", "bresilien"),
}

_CNI = re.compile(r"\b(cni|carte (nationale )?d ?identite|carte nationale|ci|carte d id|id card)\b")
_PASSPORT = re.compile(r"\b(passe?ports?|pass)\b")
_RESIDENCE = re.compile(
    r"\b(titre (de )?sejour|carte (de )?sejour|carte (de )?resident|titre de residence)\b"
)
# The words of the accepted documents' names, whose typos are forgiven (« crate »).
_DOCUMENT_WORDS = frozenset(
    {"carte", "nationale", "identite", "passeport", "titre", "sejour", "resident", "residence"}
)
_REFUSED = {
    "permis de conduire": re.compile(r"\bpermis\b"),
    "carte Vitale": re.compile(r"\bvitale\b"),
    "livret de famille": re.compile(r"\blivret\b"),
    "acte de naissance": re.compile(r"\bacte de naissance\b"),
    "extrait Kbis": re.compile(r"\bk ?bis\b"),
}


def normalise(text: str) -> str:
    """Lower case, no accents, apostrophes and hyphens as spaces: 'Pays-Bas' → 'pays bas'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[’'`\-_.,;:!?()]", " ", plain).split())


def _mentions(text: str, stems: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(stem)}\w*\b", text) for stem in stems)


def find_country(text: str) -> tuple[str | None, str] | None:
    """(ISO code, French name) of the country named; the code is None outside the EU."""
    plain = normalise(text)
    for code, (name, stems) in EU_COUNTRIES.items():
        if _mentions(plain, stems):
            return code, name
    for name, stems in OTHER_COUNTRIES.items():
        if _mentions(plain, stems):
            return None, name
    return None


def to_country(text: str) -> str:
    """The ISO code of the EU member state that issued a passport.

    Raises:
        ValueError: a French explanation (not in the EU, or not recognised).
    """
    found = find_country(text)
    if found is None:
        raise ValueError(
            "Je n'ai pas reconnu le pays. Indiquez le pays qui a délivré votre passeport, "
            "par exemple « Italie » ou « Espagne »."
        )
    code, name = found
    if code is None:
        raise ValueError(
            f"Un passeport délivré par ce pays ({name}) n'est pas accepté : seuls les "
            "passeports de l'Union européenne le sont. Si vous résidez en France, vous "
            "pouvez envoyer votre titre de séjour français."
        )
    return code


def to_document_type(text: str) -> tuple[str, str | None]:
    """('cni' | 'passport' | 'residence_permit', issuing country or None if not said).

    Raises:
        ValueError: a French explanation with the list of accepted documents.
    """
    if text.strip() in DOCUMENT_LABELS:  # a button's value
        kind = text.strip()
        return kind, None if kind == "passport" else "FR"
    plain = " ".join(fix_typos(normalise(text).split(), _DOCUMENT_WORDS))
    found = find_country(plain)
    if _RESIDENCE.search(plain):
        if found and found[0] != "FR":
            raise ValueError(
                "Seul un titre de séjour délivré par la France est accepté. " + ACCEPTED_DOCUMENTS
            )
        return "residence_permit", "FR"
    if _PASSPORT.search(plain):
        if found and found[0] is None:
            return "passport", to_country(plain)  # raises with the reason
        return "passport", found[0] if found else None
    if _CNI.search(plain):
        if found and found[0] != "FR":
            raise ValueError(
                "Seule la carte d'identité française est acceptée. Avec une carte d'un autre "
                "pays, envoyez plutôt votre passeport (Union européenne) ou votre titre de "
                "séjour. " + ACCEPTED_DOCUMENTS
            )
        return "cni", "FR"
    for name, pattern in _REFUSED.items():
        if pattern.search(plain):
            raise ValueError(f"Le document « {name} » n'est pas accepté. " + ACCEPTED_DOCUMENTS)
    raise ValueError("Je n'ai pas reconnu ce document. " + ACCEPTED_DOCUMENTS)
