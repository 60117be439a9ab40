"""French typography of what the assistant writes: every response of the domain (texts and
button titles) and the French sentences of the actions.

The clear rules only:
- a no-break space (U+00A0, or the narrow U+202F) before « ; : ! ? » and after « ;
- « guillemets », never ASCII double quotes;
- the ellipsis character …, never three dots;
- one apostrophe throughout (all ' or all ’), never both.
Links (http://…, https://…) and times written 9:30 are left alone.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NO_BREAK = "\u00a0\u202f"
BEFORE = ";:!?»"
# Spans the rules do not apply to: links, e-mail addresses, and times or ratios (9:30).
EXEMPT = re.compile(r"(?:https?|ftp)://\S+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\d:\d")
# Phrases of the actions that are French sentences shown to people (not vocabulary).
FRENCH_WORDS = frozenset(
    "vous votre vos nous je est les des une pour avec pas dans sur ne du au aux et le la de un "
    "à ou il elle ce plus été".split()
)
REGEX_SYNTAX = re.compile(r"\(\?|\\[sdwbSDWB]|\[\^|\|")
LOGGER_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical"})


def typography_problems(text: str) -> list[str]:
    """What breaks the rules in `text`, each with the place it happens."""
    masked = EXEMPT.sub(lambda match: "x" * len(match[0]), text)
    problems = []

    def at(index: int) -> str:
        return repr(text[max(0, index - 15) : index + 10])

    for index, char in enumerate(masked):
        if char in BEFORE:
            previous = masked[index - 1] if index else ""
            if previous in NO_BREAK or previous in "\n" or (char in "!?" and previous in "!?"):
                continue  # « ?! », or a line that starts with the sign
            what = "a plain space" if previous == " " else "no space"
            problems.append(f"{what} before « {char} » (needs U+00A0 or U+202F): {at(index)}")
        elif char == "«":
            following = masked[index + 1] if index + 1 < len(masked) else ""
            if following not in NO_BREAK:
                what = "a plain space" if following == " " else "no space"
                problems.append(f"{what} after « « » (needs U+00A0 or U+202F): {at(index)}")
        elif char == '"':
            problems.append(f"an ASCII double quote (use « guillemets »): {at(index)}")
    for match in re.finditer(r"\.\.\.", masked):
        problems.append(f"three dots (use the ellipsis …): {at(match.start())}")
    return problems


def _domain_files() -> list[Path]:
    folder = ROOT / "domain"
    return sorted(folder.rglob("*.yml")) if folder.is_dir() else [ROOT / "domain.yml"]


def domain_texts() -> Iterator[tuple[str, str]]:
    """(where, text) for every text and button title of the domain's responses."""
    for path in _domain_files():
        responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses", {})
        for name, variants in responses.items():
            for number, variant in enumerate(variants, start=1):
                where = name if len(variants) == 1 else f"{name} (variant {number})"
                if variant.get("text"):
                    yield where, variant["text"]
                for number, button in enumerate(variant.get("buttons", []), start=1):
                    yield f"{where}, button {number}", button["title"]


def _literal(node: ast.AST) -> str | None:
    """A string constant, or an f-string with its replacement fields shown as {…}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "{…}" for part in node.values
        )
    return None


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Docstrings, f-string parts, vocabulary lists, log messages and regular expressions."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(part) for part in node.values)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            skipped.update(id(element) for element in node.elts)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in LOGGER_METHODS or node.func.attr in {"compile", "match", "sub"}:
                skipped.update(id(argument) for argument in node.args)
    return skipped


def action_texts() -> Iterator[tuple[str, str]]:
    """(where, text) for every French sentence written in actions/ (see FRENCH_WORDS)."""
    for path in sorted((ROOT / "actions").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _skipped_nodes(tree)
        for node in ast.walk(tree):
            text = _literal(node)
            if text is None or id(node) in skipped or REGEX_SYNTAX.search(text):
                continue
            assert isinstance(node, ast.expr)  # a string literal, which has a line number
            words = re.findall(r"[\wÀ-ÿ]+", text.lower())
            if len(words) >= 4 and len(FRENCH_WORDS.intersection(words)) >= 2:
                yield f"{path.relative_to(ROOT)}:{node.lineno}", text


# The answer to a message in English (actions/conversation.py) keeps English typography;
# its French follows in a response of its own, which is checked.
IN_ENGLISH = frozenset({"utter_english"})
DOMAIN_TEXTS = [(where, text) for where, text in domain_texts() if where not in IN_ENGLISH]
ACTION_TEXTS = list(action_texts())


def test_the_rules_read_french_typography_right() -> None:
    correct = "Bonjour\u00a0! Dites «\u00a0oui\u00a0»\u202f; à 9:30, https://a.fr/?b=1 ou a@b.fr"
    assert typography_problems(correct) == []
    assert [problem.split(" (")[0] for problem in typography_problems("Bonjour ! « oui »")] == [
        "a plain space before « ! »",
        "a plain space after « « »",
        "a plain space before « » »",
    ]
    assert len(typography_problems('Dites "oui"... ou pas?')) == 4


def test_the_domain_and_the_actions_have_texts_to_check() -> None:
    assert len(DOMAIN_TEXTS) > 50
    assert len(ACTION_TEXTS) > 5


@pytest.mark.parametrize(("where", "text"), DOMAIN_TEXTS, ids=[where for where, _ in DOMAIN_TEXTS])
def test_domain_response_follows_french_typography(where: str, text: str) -> None:
    problems = typography_problems(text)
    assert not problems, f"{where}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(("where", "text"), ACTION_TEXTS, ids=[where for where, _ in ACTION_TEXTS])
def test_action_text_follows_french_typography(where: str, text: str) -> None:
    problems = typography_problems(text)
    assert not problems, f"{where}:\n  " + "\n  ".join(problems)


def test_one_apostrophe_throughout() -> None:
    texts = DOMAIN_TEXTS + ACTION_TEXTS
    straight = [where for where, text in texts if "'" in text]
    curly = [where for where, text in texts if "\u2019" in text]
    assert not (straight and curly), (
        f"both apostrophes are used: ' in {len(straight)} texts (e.g. {straight[:3]}), "
        f"’ in {len(curly)} texts (e.g. {curly[:3]})"
    )
