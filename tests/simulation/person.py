"""A simulated person: who they are, how they write, and what they do on the way.

A person answers whatever the assistant asks, in their own style, from their own data
(`Style`), so they are indifferent to the order of the questions. Their `script` adds
what they say at a given question before (or instead of) answering it: a digression, a
request for a person, a wrong value then its correction, a change of mind.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from tests.simulation.dialogue import Question

MONTHS = (
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
).split()


@dataclass(frozen=True)
class Company:
    siren: str
    contract: str
    name: str
    domain: str

    @property
    def siren_spaced(self) -> str:
        return f"{self.siren[:3]} {self.siren[3:6]} {self.siren[6:]}"


# The demo contracts of bot/data/demo_contracts.csv, loaded by every stack. One company
# serves several people: an account is unique per e-mail and SIREN.
MARTIN = Company("534640974", "AX258176", "Boulangerie Martin SARL", "boulangerie-martin.fr")
LEFEVRE = Company("629923129", "BY782554", "Transports Lefèvre et Fils", "transports-lefevre.fr")
DURAND = Company("164808941", "CZ175954", "Cabinet Durand Expertise", "cabinet-durand.fr")
MOREAU = Company("819248659", "DK198702", "Atelier Moreau Menuiserie", "atelier-moreau.fr")
PROVENCE = Company("590819355", "EL711097", "Nettoyage Provence Services", "provence-nettoyage.fr")
PETIT = Company("177844834", "FM632084", "Garage Petit Automobiles", "garage-petit.fr")
PHARMACIE = Company("388163024", "GN139317", "Pharmacie du Centre", "pharmacie-centre.fr")
BERNARD = Company("215356429", "HP554710", "Bernard Informatique SAS", "bernard-info.fr")
DEMO = Company("552100554", "AB123456", "Maison Démo Industries SA", "demo-industries.fr")


@dataclass(frozen=True)
class Identity:
    """The values a person gives, in the form the summary shows them."""

    company: Company
    civility: str  # "M." or "Mme"
    first_name: str
    last_name: str
    born: date
    mobile: str  # "06 12 34 56 78"
    job: str
    phone: str  # professional, "01 42 68 53 00"
    document: str = "cni"  # cni, passport or residence_permit
    country: str = ""  # of a passport, in French
    email_local: str = ""  # before the @; by default prénom.nom

    @property
    def email(self) -> str:
        local = self.email_local or f"{self.first_name}.{self.last_name}"
        return f"{ascii_only(local).lower().replace(' ', '-')}@{self.company.domain}"

    @property
    def woman(self) -> bool:
        return self.civility == "Mme"

    @property
    def birth_slashes(self) -> str:
        return self.born.strftime("%d/%m/%Y")

    @property
    def birth_words(self) -> str:
        day = "1er" if self.born.day == 1 else str(self.born.day)
        return f"{day} {MONTHS[self.born.month - 1]} {self.born.year}"

    def compact(self, phone: str) -> str:
        return phone.replace(" ", "")

    def value(self, question: Question) -> str | None:
        """The value that answers `question`, as it can be found in what the person typed."""
        values = {
            Question.SIREN: self.company.siren,
            Question.CONTRACT: self.company.contract,
            Question.LAST_NAME: self.last_name,
            Question.FIRST_NAME: self.first_name,
            Question.BIRTH_DATE: self.birth_slashes,
            Question.MOBILE: self.mobile,
            Question.JOB: self.job,
            Question.EMAIL: self.email,
            Question.PRO_PHONE: self.phone,
        }
        return values.get(question)


def ascii_only(text: str) -> str:
    """'Hélène Lefèvre' → 'Helene Lefevre': what people type without accents."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass
class Moment:
    """What a turn function may look at: the person, and the assistant's last answer."""

    me: Identity
    answer: str
    asked: Question | None
    # The last question of the form asked before the current one (for someone who ignores
    # an advisor's offer and answers the form).
    form_question: Question | None


@dataclass(frozen=True)
class Upload:
    """Send the next file(s) of the person's document, wherever they are in the form."""


@dataclass(frozen=True)
class Later:
    """Say `turn` at the assistant's next answer, whatever it asks (a correction)."""

    turn: str | Callable[[Moment], str]


@dataclass(frozen=True)
class AnswerForm:
    """Answer the form's last question, ignoring what the assistant just said."""


# What a person types: text, text made from the moment, or one of the moves above.
Turn = str | Callable[[Moment], str] | Upload | Later | AnswerForm


class Style:
    """How a person answers each question; the base style answers with one value."""

    def answer(
        self, question: Question, me: Identity, asked_before: frozenset[Question] = frozenset()
    ) -> str:
        """The answer to `question`; `asked_before`: the questions already asked."""
        return str(getattr(self, question.name.lower())(me))

    def invitation(self, me: Identity) -> str:
        return "oui"

    def siren(self, me: Identity) -> str:
        return me.company.siren

    def contract(self, me: Identity) -> str:
        return me.company.contract

    def company(self, me: Identity) -> str:
        return "oui"

    def civility(self, me: Identity) -> str:
        return "Madame" if me.woman else "Monsieur"

    def last_name(self, me: Identity) -> str:
        return me.last_name

    def first_name(self, me: Identity) -> str:
        return me.first_name

    def birth_date(self, me: Identity) -> str:
        return me.birth_slashes

    def mobile(self, me: Identity) -> str:
        return me.mobile

    def job(self, me: Identity) -> str:
        return me.job

    def email(self, me: Identity) -> str:
        return me.email

    def role_mailbox(self, me: Identity) -> str:
        return me.email

    def pro_phone(self, me: Identity) -> str:
        return me.phone

    def doc_type(self, me: Identity) -> str:
        return {"cni": "carte d'identité", "passport": "passeport"}.get(
            me.document, "titre de séjour"
        )

    def country(self, me: Identity) -> str:
        return me.country

    def cgu(self, me: Identity) -> str:
        return "j'accepte"

    def summary(self, me: Identity) -> str:
        return "oui"

    def advisor(self, me: Identity) -> str:
        return "non merci"

    def cancel_confirm(self, me: Identity) -> str:
        return "non, je continue"

    def field_to_change(self, me: Identity) -> str:
        return "rien finalement, tout est bon"

    def feedback(self, me: Identity) -> str:
        return "oui"

    def feedback_comment(self, me: Identity) -> str:
        return "non merci"

    def resume(self, me: Identity) -> str:
        """Said when the assistant asks nothing: back to the registration."""
        return "on continue ?"


@dataclass(frozen=True)
class Person:
    """One simulated person: a behaviour, a style, the data they give, a document."""

    name: str
    description: str
    me: Identity
    style: Style
    # What they type first, before any question (a greeting, a request with data…).
    opening: tuple[str, ...] = ("bonjour",)
    # What they say when a question is asked, before the style's answer, in order.
    script: Mapping[Question, tuple[Turn, ...]] = field(default_factory=dict)
    # Their own words for some questions, instead of the style's (yes and no in many forms).
    replies: Mapping[Question, str] = field(default_factory=dict)
    # The corpus samples they upload, one message per group (tests/corpus.py).
    files: tuple[tuple[str, ...], ...] = (("pdf_recto_verso",),)
    # People who give several answers at once: the most messages they may need.
    max_messages: int | None = None

    def answer(self, question: Question, asked_before: frozenset[Question] = frozenset()) -> str:
        """What they answer to `question` when their script has nothing more to say."""
        if question in self.replies:
            return self.replies[question]
        return self.style.answer(question, self.me, asked_before)

    @property
    def key(self) -> str:
        return ascii_only(self.name).lower().replace(" ", "-")
