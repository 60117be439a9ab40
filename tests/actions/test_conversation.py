"""The conversation around the form, run as the action server runs it: misunderstanding
step by step, yes or no read from the words, side questions, one-turn answers."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionAnswer, ActionDefaultFallback, ActionFallback
from actions.registration_form import ValidateRegistrationForm
from actions.yes_no import lexical_yes_no
from tests.actions.conftest import said, slot, slot_events, tracker, user


def outside_form(*events: dict[str, Any]) -> Tracker:
    built = tracker(*events)
    built.active_loop = {}
    return built


def bot(response: str) -> dict[str, Any]:
    return {"event": "bot", "text": response, "metadata": {"utter_action": response}}


async def run(action: Any, built: Tracker, domain: dict) -> tuple[list, list[str]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, built, domain)
    return events, said(dispatcher)


def followup(events: list[dict[str, Any]]) -> str | None:
    return next((e["name"] for e in events if e["event"] == "followup"), None)


@pytest.mark.parametrize(
    "text",
    [
        "oui",
        "Oui bien sûr",
        "c'est bien ça",
        "je confirme",
        "ok pour moi",
        "J'ai lu les conditions générales et je les accepte",
        "daccord",
        "allons-y",
        "ouais c bon",
        "tout à fait, c'est mon entreprise",
        "pas de souci",
    ],
)
def test_a_clear_yes_in_any_wording_is_a_yes(text: str) -> None:
    assert lexical_yes_no(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "non",
        "nan",
        "je n'accepte pas",
        "je ne les accepte pas",
        "ce n'est pas correct",
        "non merci je continue seul",
        "pas du tout",
        "Je refuse les CGU",
        "ce n'est pas mon entreprise",
    ],
)
def test_a_clear_no_or_a_negated_yes_is_a_no(text: str) -> None:
    assert lexical_yes_no(text) is False


@pytest.mark.parametrize(
    "text",
    ["12/03/1984", "oui mais pas maintenant", "quelle est la différence", "Durand", "", "bof"],
)
def test_words_that_do_not_say_yes_or_no_decide_nothing(text: str) -> None:
    assert lexical_yes_no(text) is None


async def test_the_terms_accepted_in_a_full_sentence_the_nlu_missed(domain: dict) -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateRegistrationForm().run(
        dispatcher,
        tracker(
            slot("requested_slot", "cgu_accepted"),
            user("j'ai bien lu vos conditions et je les accepte", "nlu_fallback"),
        ),
        domain,
    )
    assert slot_events(events)["cgu_accepted"] is True


async def test_a_negated_acceptance_is_never_a_consent(domain: dict) -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateRegistrationForm().run(
        dispatcher,
        tracker(slot("requested_slot", "cgu_accepted"), user("je n'accepte pas", "affirm")),
        domain,
    )
    assert slot_events(events).get("cgu_accepted") is None
    assert "utter_cgu_refused" in said(dispatcher)


async def test_outside_the_form_a_hint_then_help_then_an_advisor(domain: dict) -> None:
    events: list[dict[str, Any]] = [bot("utter_greet")]
    answers = []
    for text in ("zrtq pmlk", "vbn xcw", "plo uyt", "mlk jhg"):
        events.append(user(text, "nlu_fallback"))
        result, messages = await run(ActionFallback(), outside_form(*events), domain)
        answers.append(messages)
        events += [e for e in result if e["event"] == "slot"] + [bot(messages[0])]
    assert answers == [
        ["utter_rephrase"],
        ["utter_help_outside_form"],
        ["utter_offer_advisor_after_misunderstanding"],
        ["utter_rephrase_yes_no"],  # the advisor's offer waits for a yes or a no
    ]


async def test_inside_the_form_the_hint_is_for_the_question_asked(domain: dict) -> None:
    events = [slot("requested_slot", "birth_date")]
    answers = []
    for text in ("euh", "bof"):
        events.append(user(text, "nlu_fallback"))
        result, messages = await run(ActionFallback(), tracker(*events), domain)
        answers.append(messages)
        assert any(e["event"] == "active_loop" for e in result)  # the form reads the next
        events += [e for e in result if e["event"] == "slot"]
    assert answers == [["utter_rephrase_birth_date"], ["utter_help_birth_date"]]


async def test_a_yes_to_the_greeting_the_nlu_missed_starts_the_registration(
    domain: dict,
) -> None:
    built = outside_form(bot("utter_greet"), user("ouais allons-y", "nlu_fallback"))
    events, messages = await run(ActionDefaultFallback(), built, domain)
    assert messages == ["utter_start_registration"]
    assert followup(events) == "registration_form"


async def test_an_opening_message_with_data_starts_the_registration(domain: dict) -> None:
    built = outside_form(user("siren 552100554 contrat AB123456", "greet", {"siren": "552100554"}))
    events, messages = await run(ActionDefaultFallback(), built, domain)
    assert messages == ["utter_start_registration"]
    assert followup(events) == "registration_form"


async def test_a_yes_to_the_advisor_offer_in_other_words_hands_over(domain: dict) -> None:
    built = outside_form(slot("handoff_offered", True), user("oui je veux bien", "inform"))
    events, messages = await run(ActionDefaultFallback(), built, domain)
    assert messages == []
    assert followup(events) == "action_handoff"


async def test_a_message_already_answered_lets_the_form_ask_again(domain: dict) -> None:
    built = tracker(
        slot("requested_slot", "birth_date"),
        user("oui", "affirm"),
        bot("utter_handoff_ticket"),
    )
    events, messages = await run(ActionDefaultFallback(), built, domain)
    assert messages == []
    assert followup(events) == "registration_form"


async def test_why_a_field_is_asked_is_answered_for_that_field(domain: dict) -> None:
    built = tracker(slot("requested_slot", "birth_date"), user("pourquoi ?", "ask_why_needed"))
    _, messages = await run(ActionAnswer(), built, domain)
    assert messages == ["utter_why_needed_birth_date"]


async def test_the_same_question_twice_gets_help_and_an_advisor(domain: dict) -> None:
    first = [slot("requested_slot", "siren"), user("où est mon siren", "ask_siren_location")]
    result, messages = await run(ActionAnswer(), tracker(*first), domain)
    assert messages == ["utter_siren_location"]
    again = [*first, *result, user("je le trouve pas", "ask_siren_location")]
    result, messages = await run(ActionAnswer(), tracker(*again), domain)
    assert messages == ["utter_asked_again", "utter_help_siren", "utter_offer_advisor"]
    assert slot_events(result)["handoff_offered"] is True


async def test_no_contract_says_what_to_do_and_offers_an_advisor(domain: dict) -> None:
    built = tracker(slot("requested_slot", "contract_number"), user("j'en ai pas", "no_contract"))
    events, messages = await run(ActionAnswer(), built, domain)
    assert messages == ["utter_no_contract", "utter_offer_advisor"]
    assert slot_events(events)["handoff_offered"] is True


async def test_a_yes_to_an_advisor_is_not_read_again_as_accepting_the_terms(
    domain: dict,
) -> None:
    """The form asks its question again after the advisor's ticket: the « oui » was for
    the advisor."""
    dispatcher = CollectingDispatcher()
    events = await ValidateRegistrationForm().run(
        dispatcher,
        tracker(
            slot("requested_slot", "cgu_accepted"),
            user("oui je veux bien", "affirm"),
            bot("utter_handoff_ticket"),
        ),
        domain,
    )
    assert "cgu_accepted" not in slot_events(events)


async def test_where_to_find_it_is_about_the_number_asked(domain: dict) -> None:
    """« il est marqué où ? » at the contract number's question: the contract's answer,
    whichever of the two numbers the NLU thought of."""
    built = tracker(
        slot("requested_slot", "contract_number"),
        user("il est marqué où ? je le trouve pas", "ask_siren_location"),
    )
    _, messages = await run(ActionAnswer(), built, domain)
    assert messages == ["utter_contract_number_location"]
    named = tracker(
        slot("requested_slot", "contract_number"),
        user("et le siren il est où ?", "ask_contract_number"),
    )
    _, messages = await run(ActionAnswer(), named, domain)
    assert messages == ["utter_siren_location"]


async def test_where_to_find_it_the_nlu_did_not_understand_is_still_answered(
    domain: dict,
) -> None:
    """A « where » question the NLU left unclassified, at a number's question: not
    « pas compris », but where to find that number."""
    built = tracker(
        slot("requested_slot", "siren"),
        user("c'est écrit où, ce truc ?", "nlu_fallback"),
    )
    events, messages = await run(ActionDefaultFallback(), built, domain)
    assert (followup(events), messages) == ("action_answer", [])
    _, messages = await run(ActionAnswer(), built, domain)
    assert messages == ["utter_siren_location"]


async def test_a_hesitation_at_the_summary_creates_nothing(domain: dict) -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateRegistrationForm().run(
        dispatcher,
        tracker(slot("requested_slot", "summary_confirmed"), user("bof", "affirm")),
        domain,
    )
    assert slot_events(events).get("summary_confirmed") is not True


async def test_a_yes_or_a_no_is_not_taken_for_a_last_name(domain: dict) -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateRegistrationForm().run(
        dispatcher,
        tracker(slot("requested_slot", "last_name"), user("non merci", "nlu_fallback")),
        domain,
    )
    assert slot_events(events).get("last_name") is None


@pytest.mark.parametrize(
    ("typed", "marked", "stored"),
    [
        ("J'occupe le poste de responsable administratif et financier.", "financier",
         "Responsable administratif et financier"),
        ("Je suis assistante de gestion, s'il vous plaît.", "assistante", "Assistante de gestion"),
        ("Responsable d'agence", "Responsable d", "Responsable d'agence"),
    ],
)  # fmt: skip
async def test_the_job_title_asked_is_the_whole_answer(
    domain: dict, typed: str, marked: str, stored: str
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateRegistrationForm().run(
        dispatcher,
        tracker(
            slot("requested_slot", "job_title"),
            user(typed, "inform", {"job_title": marked}),
            slot("job_title", marked),
        ),
        domain,
    )
    assert slot_events(events)["job_title"] == stored
