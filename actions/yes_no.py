"""Yes or no, read from the words of a message: the backstop of every yes/no question.

The NLU classifies most answers as `affirm` or `deny`. A full sentence (« j'ai lu les
conditions et je les accepte »), SMS style or a typo may come out as another intent or
as `nlu_fallback`: when the words say yes or no clearly, they decide. They also win
when they contradict the intent, so that a negated sentence (« je n'accepte pas ») is
never taken for a consent.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Single words, accents and case removed.
_YES_WORDS = frozenset(
    """oui ouais ouai ouii ouiii ouep yes yep yup ok okay oki okey oke dac dak daccord
    volontiers parfait exact exactement correct absolument evidemment carrement entendu
    certainement affirmatif go valide valider confirme confirmee confirmees accepte acceptee
    acceptees acceptes approuve nickel impeccable biensur""".split()
)
_YES_PHRASES = (
    "d accord",
    "bien sur",
    "bien entendu",
    "tout a fait",
    "c est ca",
    "c est bien",
    "c est juste",
    "c est exact",
    "c est correct",
    "c est bon",
    "c est tout bon",
    "c est parti",
    "allons y",
    "allez y",
    "vas y",
    "ca marche",
    "ca me va",
    "pourquoi pas",
    "avec plaisir",
    "je veux bien",
    "ok pour",
    "tout est bon",
    "tout est correct",
    "tout est ok",
    "pas de probleme",
    "pas de souci",
    "sans probleme",
    "sans souci",
    "no problem",
)
_NO_WORDS = frozenset(
    """non nan nn nope no jamais refuse refusees refuser incorrect faux inexact erreur""".split()
)
_NO_PHRASES = (
    "pas du tout",
    "pas d accord",
    "surtout pas",
    "pas ca",
    "pas correct",
    "pas bon",
    "pas la bonne",
    "pas le bon",
    "pas exact",
    "pas juste",
    "pas maintenant",
    "plus tard",
    "pas ok",
    "pas moi",
    "pas elle",
    "pas lui",
    "ne veux pas",
    "ne souhaite pas",
    "n accepte pas",
    "ne les accepte pas",
    "n est pas",
)
# Hesitation: neither a yes nor a no, whatever the NLU thought.
_UNSURE_WORDS = frozenset("bof mouais mwais bah euh hmm".split())
_UNSURE_PHRASES = (
    "je sais pas",
    "je ne sais pas",
    "sais pas",
    "pas sur",
    "pas certain",
    "peut etre",
)
# Idioms that carry a negation word but say yes.
_YES_DESPITE_NEGATION = ("pas de probleme", "pas de souci", "sans probleme", "sans souci")
_NEGATION_WORDS = frozenset({"ne", "n", "pas", "jamais", "aucun", "aucune"})
# Beyond this many words a message says more than yes or no.
MAX_WORDS = 16


def normalise(text: str) -> str:
    """'C’est BIEN ça !' → 'c est bien ca'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


def _phrase_starts(words: list[str], phrases: tuple[str, ...]) -> list[int]:
    """Where each of `phrases` starts in `words` (word positions)."""
    starts = []
    for phrase in phrases:
        size = len(phrase.split())
        found = (i for i in range(len(words) - size + 1) if words[i : i + size] == phrase.split())
        starts += found
    return starts


def _negated(words: list[str], position: int) -> bool:
    """A negation among the three words before `position` (« je ne les accepte pas »),
    or « pas » right after it (« d'accord pas »)."""
    before = words[max(0, position - 3) : position]
    return any(word in _NEGATION_WORDS for word in before)


def lexical_yes_no(text: str | None) -> bool | None:
    """True for a clear yes, False for a clear no, None when the words do not say."""
    if not text or text.startswith("/"):
        return None
    words = normalise(text).split()
    if not words or len(words) > MAX_WORDS:
        return None
    if _phrase_starts(words, _YES_DESPITE_NEGATION):
        return True
    if unsure(text):
        return None
    yes_at = [i for i, word in enumerate(words) if word in _YES_WORDS]
    yes_at += _phrase_starts(words, _YES_PHRASES)
    no = any(word in _NO_WORDS for word in words) or bool(_phrase_starts(words, _NO_PHRASES))
    plain_yes = [i for i in yes_at if not _negated(words, i)]
    if len(plain_yes) < len(yes_at):  # « je n'accepte pas », « ce n'est pas correct »
        no = True
    if no and not plain_yes:
        return False
    if plain_yes and not no:
        return True
    return None


def unsure(text: str | None) -> bool:
    """« bof », « je sais pas », « peut-être »: a hesitation, not an answer."""
    words = normalise(text or "").split()
    return bool(_UNSURE_WORDS.intersection(words)) or bool(_phrase_starts(words, _UNSURE_PHRASES))


def yes_no_answer(message: dict[str, Any]) -> bool | None:
    """A parsed message's yes or no: its words when they are clear, else its intent."""
    intent = (message.get("intent") or {}).get("name")
    text = (message.get("text") or "").strip()
    by_intent = {"affirm": True, "deny": False}.get(intent)
    if text.startswith("/"):  # a button: its payload says it
        return by_intent
    if unsure(text):
        return None
    by_words = lexical_yes_no(text)
    return by_words if by_words is not None else by_intent


def reply_yes_no(message: dict[str, Any]) -> bool | None:
    """The yes or no of a reply to a yes-or-no question. A question back (« c'est
    obligatoire ? », « pourquoi … ? ») is neither, unless the NLU read it as a yes or a no
    (« c'est bon ? oui »)."""
    intent = (message.get("intent") or {}).get("name")
    if "?" in (message.get("text") or "") and intent not in ("affirm", "deny"):
        return None
    return yes_no_answer(message)
