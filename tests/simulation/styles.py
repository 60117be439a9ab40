"""Ways of writing: each style answers every question from the person's own data.

Written from descriptions of how people write (one word, full sentences, SMS, no
accents, typos, polite wrappers, everything at once), not from the training data.
"""

from __future__ import annotations

from tests.simulation.dialogue import Question
from tests.simulation.person import Identity, Style, ascii_only

DOCUMENT_WORDS = {
    "cni": "ma carte nationale d'identité",
    "passport": "mon passeport",
    "residence_permit": "mon titre de séjour",
}


class OneWord(Style):
    """A value, a « oui », nothing more (the base style)."""


class Sentences(Style):
    """Complete, careful sentences that name what they give."""

    def invitation(self, me: Identity) -> str:
        return "Oui, je voudrais créer l'espace client de mon entreprise."

    def siren(self, me: Identity) -> str:
        return f"Le numéro SIREN de ma société est le {me.company.siren_spaced}."

    def contract(self, me: Identity) -> str:
        return f"Notre numéro de contrat est le {me.company.contract}."

    def company(self, me: Identity) -> str:
        return "Oui, c'est bien notre société."

    def civility(self, me: Identity) -> str:
        return f"Vous pouvez mettre {'Madame' if me.woman else 'Monsieur'}."

    def last_name(self, me: Identity) -> str:
        return f"Mon nom de famille est {me.last_name}."

    def first_name(self, me: Identity) -> str:
        return f"Mon prénom est {me.first_name}."

    def birth_date(self, me: Identity) -> str:
        return f"Je suis {'née' if me.woman else 'né'} le {me.birth_words}."

    def mobile(self, me: Identity) -> str:
        return f"Mon numéro de portable est le {me.mobile}."

    def job(self, me: Identity) -> str:
        job = me.job.lower()
        of = "d'" if job[0] in "aeiouyéèh" else "de "
        return f"J'occupe le poste {of}{job}."

    def email(self, me: Identity) -> str:
        return f"Mon adresse e-mail professionnelle est {me.email}."

    def pro_phone(self, me: Identity) -> str:
        return f"Au bureau, on peut me joindre au {me.phone}."

    def doc_type(self, me: Identity) -> str:
        return f"Je vais vous envoyer {DOCUMENT_WORDS[me.document]}."

    def country(self, me: Identity) -> str:
        return f"Il a été délivré en {me.country}."

    def cgu(self, me: Identity) -> str:
        return "J'ai pris connaissance des conditions générales d'utilisation et je les accepte."

    def summary(self, me: Identity) -> str:
        return "Tout est correct, vous pouvez créer mon espace."

    def advisor(self, me: Identity) -> str:
        return "Non merci, je préfère continuer avec vous."

    def feedback(self, me: Identity) -> str:
        return "Oui, c'était très clair."

    def resume(self, me: Identity) -> str:
        return "Pouvons-nous reprendre mon inscription ?"


class NoAccents(Sentences):
    """Full sentences typed without a single accent (a keyboard without them)."""

    def answer(
        self, question: Question, me: Identity, asked_before: frozenset[Question] = frozenset()
    ) -> str:
        return ascii_only(super().answer(question, me, asked_before))


class Sms(Style):
    """Lower case, abbreviations, no punctuation, as in a text message."""

    def invitation(self, me: Identity) -> str:
        return "ouai go"

    def siren(self, me: Identity) -> str:
        return f"siren {me.company.siren}"

    def contract(self, me: Identity) -> str:
        return f"contrat {me.company.contract.lower()}"

    def company(self, me: Identity) -> str:
        return "ui c sa"

    def civility(self, me: Identity) -> str:
        return "mme" if me.woman else "mr"

    def last_name(self, me: Identity) -> str:
        return me.last_name.lower()

    def first_name(self, me: Identity) -> str:
        return ascii_only(me.first_name).lower()

    def birth_date(self, me: Identity) -> str:
        return f"ne le {me.born.day}/{me.born.month}/{me.born.year % 100:02d}"

    def mobile(self, me: Identity) -> str:
        return f"port {me.compact(me.mobile)}"

    def job(self, me: Identity) -> str:
        return ascii_only(me.job).lower()

    def email(self, me: Identity) -> str:
        return f"mail {me.email}"

    def pro_phone(self, me: Identity) -> str:
        return f"fixe {me.compact(me.phone)}"

    def doc_type(self, me: Identity) -> str:
        return {"cni": "cni", "passport": "passeport"}.get(me.document, "titre sejour")

    def country(self, me: Identity) -> str:
        return ascii_only(me.country).lower()

    def cgu(self, me: Identity) -> str:
        return "jaccepte les cgu"

    def summary(self, me: Identity) -> str:
        return "c bon tt est ok"

    def advisor(self, me: Identity) -> str:
        return "non c bon"

    def feedback(self, me: Identity) -> str:
        return "ui"

    def resume(self, me: Identity) -> str:
        return "on continu"


class Typos(Sentences):
    """Quick typing: swapped and missing letters, the values themselves typed right."""

    def invitation(self, me: Identity) -> str:
        return "oui je veux bien créé mon espase"

    def siren(self, me: Identity) -> str:
        return f"le sirne est {me.company.siren}"

    def contract(self, me: Identity) -> str:
        return f"numero de contart {me.company.contract}"

    def company(self, me: Identity) -> str:
        return "oui c'ets bien ma societe"

    def civility(self, me: Identity) -> str:
        return "madmae" if me.woman else "monsieru"

    def last_name(self, me: Identity) -> str:
        return f"nom de famile {me.last_name}"

    def first_name(self, me: Identity) -> str:
        return f"prénon {me.first_name}"

    def birth_date(self, me: Identity) -> str:
        return f"je suis nee le {me.birth_slashes}"

    def mobile(self, me: Identity) -> str:
        return f"mon portabel c'est le {me.mobile}"

    def job(self, me: Identity) -> str:
        return f"je suis {me.job.lower()}"

    def email(self, me: Identity) -> str:
        return f"mon adrese mail {me.email}"

    def pro_phone(self, me: Identity) -> str:
        return f"telephonne du bureau {me.phone}"

    def doc_type(self, me: Identity) -> str:
        return {"cni": "ma crate d'identité", "passport": "pasport"}.get(
            me.document, "titre de sejuor"
        )

    def cgu(self, me: Identity) -> str:
        return "j'accpete les conditons"

    def summary(self, me: Identity) -> str:
        return "c'est bon tout est corect"

    def advisor(self, me: Identity) -> str:
        return "non mreci ca ira"

    def feedback(self, me: Identity) -> str:
        return "oui merci"


class Polite(Sentences):
    """Courtesy around every answer: « bien sûr », « s'il vous plaît », « merci »."""

    def invitation(self, me: Identity) -> str:
        return "Oui, avec plaisir, merci."

    def siren(self, me: Identity) -> str:
        return f"Bien sûr : il s'agit du {me.company.siren_spaced}. Merci."

    def contract(self, me: Identity) -> str:
        return f"Volontiers, le voici : {me.company.contract}, merci."

    def company(self, me: Identity) -> str:
        return "Oui bien sûr, c'est bien elle, merci."

    def civility(self, me: Identity) -> str:
        return f"{'Madame' if me.woman else 'Monsieur'}, s'il vous plaît."

    def last_name(self, me: Identity) -> str:
        return f"Alors, {me.last_name}, s'il vous plaît."

    def first_name(self, me: Identity) -> str:
        return f"{me.first_name}, merci."

    def birth_date(self, me: Identity) -> str:
        return f"Bien sûr, le {me.birth_slashes}."

    def mobile(self, me: Identity) -> str:
        return f"Je vous le donne : {me.mobile}, merci beaucoup."

    def job(self, me: Identity) -> str:
        return f"Je suis {me.job.lower()}, s'il vous plaît."

    def email(self, me: Identity) -> str:
        return f"Bien entendu : {me.email}, merci."

    def pro_phone(self, me: Identity) -> str:
        return f"Volontiers : {me.phone}, c'est ma ligne directe."

    def doc_type(self, me: Identity) -> str:
        return f"Je vais envoyer {DOCUMENT_WORDS[me.document]}, si cela vous convient."

    def cgu(self, me: Identity) -> str:
        return "Oui, je les accepte, merci."

    def summary(self, me: Identity) -> str:
        return "Oui, tout est parfait, je vous remercie."

    def advisor(self, me: Identity) -> str:
        return "Non, je vous remercie, je continue avec vous."

    def feedback(self, me: Identity) -> str:
        return "Oui, merci beaucoup pour votre aide."


STEPS = (
    frozenset({Question.SIREN, Question.CONTRACT}),
    frozenset(
        {
            Question.CIVILITY,
            Question.LAST_NAME,
            Question.FIRST_NAME,
            Question.BIRTH_DATE,
            Question.MOBILE,
        }
    ),
    frozenset({Question.JOB, Question.EMAIL, Question.PRO_PHONE}),
)


class AllAtOnce(Sentences):
    """Gives every value of a step at the first question of the step, in one message;
    a later question of the same step gets its own value in a sentence."""

    def answer(
        self, question: Question, me: Identity, asked_before: frozenset[Question] = frozenset()
    ) -> str:
        step = next((step for step in STEPS if question in step), frozenset())
        if step & asked_before:
            return str(getattr(Sentences, question.name.lower())(self, me))
        return super().answer(question, me, asked_before)

    def personal(self, me: Identity) -> str:
        born = "née" if me.woman else "né"
        civility = "Madame" if me.woman else "Monsieur"
        return (
            f"{civility} {me.first_name} {me.last_name}, {born} le {me.birth_slashes}, "
            f"portable {me.mobile}"
        )

    def professional(self, me: Identity) -> str:
        return f"{me.job}, {me.email}, ligne directe {me.phone}"

    def siren(self, me: Identity) -> str:
        return f"le SIREN : {me.company.siren_spaced}, le contrat : {me.company.contract}"

    contract = siren
    civility = last_name = first_name = birth_date = mobile = personal
    job = email = pro_phone = professional

    def doc_type(self, me: Identity) -> str:
        return {"cni": "carte d'identité", "passport": "passeport"}.get(
            me.document, "titre de séjour"
        )

    def cgu(self, me: Identity) -> str:
        return "j'accepte"

    def summary(self, me: Identity) -> str:
        return "oui, c'est tout bon"
