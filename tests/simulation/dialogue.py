"""Reading the assistant's answers as a person does: which question is asked, whether
the message was understood, whether anything was said at all."""

from __future__ import annotations

import re
import unicodedata
from enum import Enum


class Question(Enum):
    """What the assistant asks (or says that ends the dialogue)."""

    INVITATION = "invitation"
    SIREN = "SIREN"
    CONTRACT = "numéro de contrat"
    COMPANY = "confirmation de l'entreprise"
    CIVILITY = "civilité"
    LAST_NAME = "nom de famille"
    FIRST_NAME = "prénom"
    BIRTH_DATE = "date de naissance"
    MOBILE = "portable"
    JOB = "fonction"
    EMAIL = "e-mail professionnel"
    PRO_PHONE = "téléphone professionnel"
    ROLE_MAILBOX = "boîte générique"
    DOC_TYPE = "type de document"
    COUNTRY = "pays du passeport"
    DOC_FILE = "fichier du document"
    DOC_BACK = "verso"
    CGU = "conditions générales"
    SUMMARY = "récapitulatif"
    FIELD_TO_CHANGE = "information à modifier"
    ADVISOR = "offre d'un conseiller"
    CANCEL_CONFIRM = "confirmation d'annulation"
    FEEDBACK = "utilité"
    FEEDBACK_COMMENT = "commentaire"
    CREATED = "espace créé"
    HANDED_OVER = "transmis à un conseiller"


def plain(text: str) -> str:
    """Lower case, no accents, straight apostrophes, single spaces: for matching."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


_FIELD_TO_CHANGE = re.compile(r"(quelle information|que) souhaitez-vous modifier")
# Words of each question, on `plain` text, most specific first: the summary names every
# field, the contract's help names the SIREN, the CGU question follows the document.
_PATTERNS: list[tuple[Question, re.Pattern[str]]] = [
    (Question.HANDED_OVER, re.compile(r"je transmets votre demande|merci de patienter")),
    (Question.SUMMARY, re.compile(r"recapitulatif|tout est-il correct")),
    (
        Question.CANCEL_CONFIRM,
        re.compile(r"(vraiment|confirmez|souhaitez-vous|voulez-vous).*annul"),
    ),
    (Question.FIELD_TO_CHANGE, _FIELD_TO_CHANGE),
    (Question.ADVISOR, re.compile(r"conseiller|en relation|le relais")),
    (Question.FEEDBACK_COMMENT, re.compile(r"commentaire")),
    (Question.FEEDBACK, re.compile(r"\butiles?\b")),
    (Question.CGU, re.compile(r"conditions generales|\bcgu\b")),
    (Question.DOC_BACK, re.compile(r"maintenant le verso|le verso de votre")),
    (
        Question.DOC_FILE,
        re.compile(r"envoyez (une photo|un scan|le fichier)|trombone|page de votre passeport"),
    ),
    (Question.COUNTRY, re.compile(r"quel pays")),
    (Question.DOC_TYPE, re.compile(r"quel document|quelle piece|type de (piece|document)")),
    (
        Question.COMPANY,
        re.compile(r"s'agit-il bien|est-ce bien (votre|la bonne)|j'ai trouve l'entreprise"),
    ),
    (Question.ROLE_MAILBOX, re.compile(r"boite generique")),
    (Question.CONTRACT, re.compile(r"numero de contrat")),
    (Question.SIREN, re.compile(r"\bsiren\b|\bsiret\b")),
    (Question.CIVILITY, re.compile(r"civilite")),
    (Question.LAST_NAME, re.compile(r"nom de famille")),
    (Question.FIRST_NAME, re.compile(r"prenom")),
    (Question.BIRTH_DATE, re.compile(r"date de naissance")),
    (Question.PRO_PHONE, re.compile(r"telephone professionnel|numero professionnel")),
    (Question.MOBILE, re.compile(r"portable|mobile")),
    (Question.JOB, re.compile(r"fonction")),
    (Question.EMAIL, re.compile(r"e-?mail|adresse electronique")),
    (
        Question.INVITATION,
        re.compile(r"pour commencer|(voulez|souhaitez)-vous commencer|on commence"),
    ),
]
# Questions the assistant asks without a question mark (an instruction, an invitation).
_WITHOUT_QUESTION_MARK = frozenset(
    {Question.DOC_FILE, Question.DOC_BACK, Question.INVITATION, Question.HANDED_OVER}
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
_CREATED = re.compile(r"c'est fait|demande est enregistree|espace client (est|a ete) cree")
_NOT_UNDERSTOOD = re.compile(
    r"pas (bien )?compris|reformuler|n'arrive pas a vous comprendre|pas (bien )?saisi"
    r"|pas trouve d[e'][^.]* dans votre message|pas reconnu|j'attends (votre|un fichier)"
)


def is_not_understood(answer: str) -> bool:
    """The assistant says it did not understand: utter_default and utter_rephrase_* (« pas
    bien compris », « reformuler », « pas saisi », « pas trouvé de … dans votre message »,
    « j'attends votre pièce d'identité »), the advisor offer after misunderstandings, and
    the validators' « je n'ai pas reconnu … »."""
    return bool(_NOT_UNDERSTOOD.search(plain(answer)))


def is_created(messages: list[str]) -> bool:
    """The assistant says the account is created."""
    return any(_CREATED.search(plain(message)) for message in messages)


def question_of(messages: list[str]) -> Question | None:
    """The question the assistant's answer ends with: the last of its messages that asks
    something (but « what do you want to change? » wins: the person answers it even when
    the summary follows). Its question sentence decides (« S'agit-il bien de votre entreprise ? »),
    else the whole message (« … conditions générales … Les acceptez-vous ? »); among
    several matches, the most specific words win."""
    if any(_FIELD_TO_CHANGE.search(plain(message)) for message in messages):
        return Question.FIELD_TO_CHANGE  # even if the summary is shown again after it
    for message in reversed(messages):
        text = plain(message)
        sentences = [part for part in _SENTENCE_END.split(text) if "?" in part]
        for scope in [*sentences[-1:], text]:
            for question, pattern in _PATTERNS:
                if pattern.search(scope) and ("?" in text or question in _WITHOUT_QUESTION_MARK):
                    return question
    return Question.CREATED if is_created(messages) else None
