"""The registration form's validators, run as the action server runs them."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.account_service import AccountServiceClient
from actions.registration_form import ValidateRegistrationForm
from tests.actions.conftest import said, slot, slot_events, tracker, user
from tests.bot.payloads import DEMO_COMPANY, registration_with_document
from tests.conftest import Service


async def validate(domain: dict[str, Any], *events: dict[str, Any]) -> tuple[dict, list[str]]:
    dispatcher = CollectingDispatcher()
    result = await ValidateRegistrationForm().run(dispatcher, tracker(*events), domain)
    return slot_events(result), said(dispatcher)


def asked(slot_name: str) -> dict[str, Any]:
    return slot("requested_slot", slot_name)


# Step 1: the company.


@pytest.mark.parametrize(
    ("typed", "entity"),
    [
        ("552 100 554", {"siren": "552 100 554"}),
        ("552.100.554.00013", {"siret": "552.100.554.00013"}),
        ("55210055400013", None),
        ("552-100-554", None),
    ],
)
async def test_siren_or_siret_is_reduced_to_the_siren(
    domain: dict, typed: str, entity: dict | None
) -> None:
    extracted = [slot("siren", next(iter(entity.values())))] if entity else []
    slots, messages = await validate(
        domain, asked("siren"), user(typed, entities=entity), *extracted
    )
    assert slots["siren"] == "552100554"
    assert messages == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("552 100 555", "clé de contrôle"),
        ("1234", "9 chiffres"),
        ("je sais pas", "que des chiffres"),
    ],
)
async def test_a_bad_siren_is_explained(domain: dict, typed: str, expected: str) -> None:
    slots, messages = await validate(domain, asked("siren"), user(typed))
    assert slots["siren"] is None
    assert expected in messages[0]
    assert slots["failed_attempts"] == {"siren": 1}


async def test_second_failure_adds_the_help_and_the_third_an_advisor(domain: dict) -> None:
    second_slots, second = await validate(
        domain, slot("failed_attempts", {"siren": 1}), asked("siren"), user("123")
    )
    slots, third = await validate(
        domain, slot("failed_attempts", {"siren": 2}), asked("siren"), user("124")
    )
    assert second[1:] == ["utter_help_siren"]
    assert second_slots.get("handoff_offered") is None
    assert slots["failed_attempts"] == {"siren": 3}
    assert third[1:] == ["utter_offer_advisor"]


async def test_a_valid_answer_clears_the_failure_count(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        slot("failed_attempts", {"siren": 2, "birth_date": 1}),
        asked("siren"),
        user("552100554", entities={"siren": "552100554"}),
        slot("siren", "552100554"),
    )
    assert slots["failed_attempts"] == {"birth_date": 1}


async def test_siren_and_contract_in_one_message_are_verified_together(
    domain: dict, live_client: AccountServiceClient
) -> None:
    message = user(
        "SIREN 552 100 554, contrat AB123456",
        entities={"siren": "552 100 554", "contract_number": "AB123456"},
    )
    slots, messages = await validate(
        domain,
        asked("siren"),
        message,
        slot("siren", "552 100 554"),
        slot("contract_number", "AB123456"),
    )
    assert (slots["siren"], slots["contract_number"]) == ("552100554", "AB123456")
    assert slots["company_name"] == DEMO_COMPANY
    assert messages == []


async def test_an_unknown_pair_keeps_the_siren(
    domain: dict, live_client: AccountServiceClient
) -> None:
    slots, messages = await validate(
        domain,
        slot("siren", "552100554"),
        asked("contract_number"),
        user("ZZ999999", entities={"contract_number": "ZZ999999"}),
        slot("contract_number", "ZZ999999"),
    )
    assert slots["contract_number"] is None
    assert "siren" not in slots, "the SIREN already given is kept"
    assert "Nous ne retrouvons pas de contrat" in messages[0]


async def test_a_no_to_the_company_read_back_starts_step_one_again(domain: dict) -> None:
    slots, messages = await validate(
        domain,
        slot("siren", "552100554"),
        slot("contract_number", "AB123456"),
        slot("company_name", DEMO_COMPANY),
        asked("company_confirmed"),
        user("non", intent="deny"),
        slot("company_confirmed", False),
    )
    assert slots["siren"] is None and slots["contract_number"] is None
    assert messages == ["utter_company_not_confirmed"]


# Step 2: the person.


@pytest.mark.parametrize(
    ("typed", "expected"), [("Madame", "Mme"), ("monsieur", "M."), ("mme", "Mme")]
)
async def test_civility(domain: dict, typed: str, expected: str) -> None:
    slots, _ = await validate(domain, asked("civility"), user(typed))
    assert slots["civility"] == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("dupont", "Dupont"),
        ("je m'appelle Lefèvre", "Lefèvre"),
        ("DE LA FONTAINE", "De La Fontaine"),
        ("N'Diaye", "N'Diaye"),
        ("Alors, Mercier, s'il vous plaît.", "Mercier"),
        ("euh Martin svp", "Martin"),
    ],
)
async def test_last_name_from_the_answer(domain: dict, typed: str, expected: str) -> None:
    slots, _ = await validate(domain, asked("last_name"), user(typed))
    assert slots["last_name"] == expected


async def test_a_name_with_digits_is_refused(domain: dict) -> None:
    slots, messages = await validate(domain, asked("first_name"), user("Luc2"))
    assert slots["first_name"] is None
    assert "que des lettres" in messages[0]


async def test_a_correction_of_an_earlier_answer_while_asked_something_else(
    domain: dict,
) -> None:
    slots, _ = await validate(
        domain,
        slot("first_name", "Marc"),
        asked("birth_date"),
        user("en fait mon prénom c'est Luc", intent="correct", entities={"first_name": "Luc"}),
        slot("first_name", "Luc"),
    )
    assert slots["first_name"] == "Luc"
    assert "birth_date" not in slots


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12/03/1984", "1984-03-12"),
        ("12 mars 1984", "1984-03-12"),
        ("le 1er mai 1970", "1970-05-01"),
    ],
)
async def test_birth_date(domain: dict, typed: str, expected: str) -> None:
    slots, _ = await validate(domain, asked("birth_date"), user(typed))
    assert slots["birth_date"] == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("12/03/2020", "majeur"), ("31/02/1980", "n'existe pas"), ("12/03/2999", "passée")],
)
async def test_impossible_birth_dates(domain: dict, typed: str, expected: str) -> None:
    slots, messages = await validate(domain, asked("birth_date"), user(typed))
    assert slots["birth_date"] is None
    assert expected in messages[0]


@pytest.mark.parametrize(
    "typed", ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "06.12.34.56.78"]
)
async def test_mobile_phone_in_e164(domain: dict, typed: str) -> None:
    slots, _ = await validate(domain, asked("mobile_phone"), user(typed, entities={"phone": typed}))
    assert slots["mobile_phone"] == "+33612345678"


async def test_a_landline_is_not_a_mobile(domain: dict) -> None:
    slots, messages = await validate(domain, asked("mobile_phone"), user("01 42 68 53 00"))
    assert slots["mobile_phone"] is None
    assert "portable" in messages[0]


# Step 3: professional details.


async def test_a_role_mailbox_gets_a_warning_then_a_second_chance(domain: dict) -> None:
    slots, messages = await validate(
        domain,
        asked("professional_email"),
        user("contact@exemple.fr", entities={"email": "contact@exemple.fr"}),
        slot("professional_email", "contact@exemple.fr"),
    )
    assert slots["professional_email"] is None
    assert slots["pending_role_email"] == "contact@exemple.fr"
    assert messages == ["utter_role_mailbox_warning"]

    slots, messages = await validate(
        domain,
        slot("pending_role_email", "contact@exemple.fr"),
        asked("professional_email"),
        user("oui je la garde", intent="affirm"),
    )
    assert slots["professional_email"] == "contact@exemple.fr"
    assert messages == []


async def test_an_email_of_another_person_is_refused(
    domain: dict, live_client: AccountServiceClient, service: Service
) -> None:
    await live_client.create_registration(await registration_with_document(service), "k1")
    # The service answers the e-mail check only once the conversation's company is verified.
    await live_client.verify_company("552100554", "AB123456", "conv-test")
    slots, messages = await validate(
        domain,
        slot("last_name", "Martin"),
        slot("first_name", "Luc"),
        slot("birth_date", "1970-01-01"),
        asked("professional_email"),
        user("emilie.lefevre@exemple-industries.fr"),
    )
    assert slots["professional_email"] is None
    assert "une seule personne" in messages[0]


async def test_a_malformed_email_is_explained(domain: dict) -> None:
    slots, messages = await validate(domain, asked("professional_email"), user("jean.dupont@"))
    assert slots["professional_email"] is None
    assert "prenom.nom@entreprise.fr" in messages[0]


# Step 4 and the summary.


async def test_cgu_refusal_is_respected(domain: dict) -> None:
    slots, messages = await validate(
        domain, asked("cgu_accepted"), user("non", intent="deny"), slot("cgu_accepted", False)
    )
    assert slots["cgu_accepted"] is None
    assert messages == ["utter_cgu_refused"]


async def test_cgu_acceptance_is_timestamped(domain: dict) -> None:
    slots, _ = await validate(
        domain, asked("cgu_accepted"), user("oui", intent="affirm"), slot("cgu_accepted", True)
    )
    assert slots["cgu_accepted"] is True
    assert slots["cgu_accepted_at"].endswith("+00:00")


async def test_changing_a_field_from_the_summary_asks_it_again(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        slot("mobile_phone", "+33612345678"),
        asked("summary_confirmed"),
        user(
            "je veux modifier mon portable",
            intent="change_field",
            entities={"field": "mobile_phone"},
        ),
    )
    assert slots["mobile_phone"] is None
    assert slots["summary_confirmed"] is None


async def test_changing_the_siren_also_forgets_the_company(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        slot("company_name", DEMO_COMPANY),
        asked("summary_confirmed"),
        user("modifier le siren", intent="change_field", entities={"field": "siren"}),
    )
    assert slots["siren"] is None and slots["company_name"] is None


async def test_yes_at_the_summary_completes_the_form(domain: dict) -> None:
    slots, _ = await validate(domain, asked("summary_confirmed"), user("oui", intent="affirm"))
    assert slots["summary_confirmed"] is True


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("gérante", "Gérante"), ("je suis DAF", "DAF"), ("c'est comptable", "Comptable")],
)
async def test_job_title(domain: dict, typed: str, expected: str) -> None:
    slots, _ = await validate(domain, asked("job_title"), user(typed))
    assert slots["job_title"] == expected


async def test_a_job_title_without_letters_is_refused(domain: dict) -> None:
    slots, messages = await validate(domain, asked("job_title"), user("42"))
    assert slots["job_title"] is None
    assert "fonction" in messages[0]


@pytest.mark.parametrize(
    ("typed", "expected"), [("01 42 68 53 00", "+33142685300"), ("06 12 34 56 78", "+33612345678")]
)
async def test_professional_phone_landline_or_mobile(
    domain: dict, typed: str, expected: str
) -> None:
    slots, _ = await validate(
        domain, asked("professional_phone"), user(typed, entities={"phone": typed})
    )
    assert slots["professional_phone"] == expected


async def test_a_phone_given_for_another_field_goes_to_that_field(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        asked("job_title"),
        user(
            "mon portable c'est 07 81 22 33 44",
            intent="correct",
            entities={"phone": "07 81 22 33 44", "field": "mobile_phone"},
        ),
    )
    assert slots["mobile_phone"] == "+33781223344"
    assert "job_title" not in slots


async def test_a_whole_step_in_one_message_fills_each_of_its_fields(domain: dict) -> None:
    typed = "Gérant, yann.le-gall@garage-petit.fr, ligne directe 02 98 12 34 56"
    slots, messages = await validate(
        domain,
        asked("job_title"),
        user(
            typed,
            entities={
                "job_title": "Directe",  # the NLU's misreading of « ligne directe »
                "email": "yann.le-gall@garage-petit.fr",
                "phone": "02 98 12 34 56",
            },
        ),
        slot("job_title", "Directe"),
        slot("professional_email", "yann.le-gall@garage-petit.fr"),
    )
    assert slots["job_title"] == "Gérant"
    assert slots["professional_email"] == "yann.le-gall@garage-petit.fr"
    assert slots["professional_phone"] == "+33298123456"
    assert messages == []


async def test_a_surname_keeps_the_particle_the_nlu_left_out(domain: dict) -> None:
    typed = "Monsieur Yann Le Gall, né le 30/01/1972, portable 06 11 22 33 44"
    slots, _ = await validate(
        domain,
        asked("civility"),
        user(
            typed,
            entities={
                "civility": "Monsieur",
                "first_name": "Yann",
                "last_name": "Gall",
                "date": "30/01/1972",
                "phone": "06 11 22 33 44",
            },
        ),
        slot("first_name", "Yann"),
        slot("last_name", "Gall"),
        slot("birth_date", "30/01/1972"),
    )
    assert (slots["first_name"], slots["last_name"]) == ("Yann", "Le Gall")
    assert slots["mobile_phone"] == "+33611223344"
    assert slots["birth_date"] == "1972-01-30"


# A word misread as a name or a job title does not overwrite one.


async def test_a_country_read_as_a_first_name_keeps_the_first_name(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        slot("first_name", "Paul"),
        slot("id_document_type", "passport"),
        asked("id_document_country"),
        user("France", entities={"first_name": "France"}),
        slot("first_name", "France"),
    )
    assert slots["first_name"] == "Paul"
    assert slots["id_document_country"] == "FR"


async def test_words_that_start_a_sentence_are_not_taken_for_names(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        slot("siren", "215356429"),
        asked("contract_number"),
        user(
            "Notre numéro de contrat est le HP554710.",
            entities={"first_name": "Notre", "last_name": "Le", "contract_number": "HP554710"},
        ),
        slot("first_name", "Notre"),
        slot("last_name", "Le"),
    )
    assert (slots["first_name"], slots["last_name"]) == (None, None)


async def test_a_surname_with_a_particle_given_early_is_kept(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        asked("civility"),
        user("Monsieur Le Gall", entities={"civility": "M", "last_name": "Le Gall"}),
        slot("last_name", "Le Gall"),
    )
    assert slots["last_name"] == "Le Gall"


async def test_a_first_name_also_read_as_a_job_title_is_only_a_first_name(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        asked("first_name"),
        user("Charlotte", entities={"first_name": "Charlotte", "job_title": "Charlotte"}),
        slot("first_name", "Charlotte"),
        slot("job_title", "Charlotte"),
    )
    assert slots["first_name"] == "Charlotte"
    assert slots["job_title"] is None


async def test_a_job_title_given_with_other_answers_is_kept(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        asked("mobile_phone"),
        user(
            "je suis gérant de la SARL, mon portable est le 06 45 78 12 33",
            entities={"job_title": "gérant", "phone": "06 45 78 12 33"},
        ),
        slot("job_title", "gérant"),
    )
    assert slots["job_title"] == "Gérant"
    assert slots["mobile_phone"] == "+33645781233"


async def test_the_step_given_at_its_email_question_keeps_the_job_title(domain: dict) -> None:
    typed = "DRH, amandine.roux@demo-industries.fr, ligne directe 01 53 24 68 10"
    slots, _ = await validate(
        domain,
        slot("job_title", "DRH"),
        asked("professional_email"),
        user(
            typed,
            entities={"job_title": "directe", "email": "amandine.roux@demo-industries.fr"},
        ),
        slot("job_title", "directe"),
        slot("professional_email", "amandine.roux@demo-industries.fr"),
    )
    assert slots["job_title"] == "DRH"
    assert slots["professional_email"] == "amandine.roux@demo-industries.fr"


async def test_a_word_of_the_job_title_read_as_a_first_name_leaves_the_name(
    domain: dict,
) -> None:
    slots, _ = await validate(
        domain,
        slot("first_name", "Sophie"),
        asked("job_title"),
        user("Pharmacienne titulaire", entities={"first_name": "titulaire"}),
        slot("first_name", "titulaire"),
    )
    assert slots["job_title"] == "Pharmacienne titulaire"
    assert slots["first_name"] == "Sophie"


async def test_a_correction_names_the_phone_among_other_words(domain: dict) -> None:
    typed = "attendez, je me suis trompée de numéro, mon portable c'est le 06 28 46 82 64"
    tracker_events = [
        slot("mobile_phone", "+33655443322"),
        asked("job_title"),
        user(typed, intent="correct", entities={"field": "numéro", "phone": "06 28 46 82 64"}),
    ]
    # Two `field` entities: « numéro », then « portable » (mobile_phone).
    tracker_events[-1]["parse_data"]["entities"].insert(
        1, {"entity": "field", "value": "mobile_phone", "start": 44, "end": 52}
    )
    slots, _ = await validate(domain, *tracker_events)
    assert slots["mobile_phone"] == "+33628468264"
    assert "professional_phone" not in slots


@pytest.mark.parametrize(("typed", "expected"), [("madmae", "Mme"), ("Monsieru", "M.")])
async def test_a_civility_with_a_typo_is_understood(
    domain: dict, typed: str, expected: str
) -> None:
    slots, messages = await validate(
        domain,
        asked("civility"),
        user(typed, entities={"civility": typed}),
        slot("civility", typed),  # Rasa's from_entity mapping
    )
    assert slots["civility"] == expected
    assert messages == []


async def test_an_answer_the_nlu_took_for_a_correction_answers_the_question(
    domain: dict,
) -> None:
    slots, messages = await validate(
        domain,
        asked("job_title"),
        user(
            "Je suis office manager, s'il vous plaît.",
            intent="correct",
            entities={"job_title": "office"},
        ),
        slot("job_title", "office"),
    )
    assert slots["job_title"] == "Office manager"
    assert messages == []


async def test_a_name_given_in_a_sentence_is_not_also_a_job_title(domain: dict) -> None:
    slots, _ = await validate(
        domain,
        asked("first_name"),
        user(
            "Mon prénom est Chantal.",
            entities={"field": "first_name", "job_title": "Chantal"},
        ),
        slot("job_title", "Chantal"),
    )
    assert slots["first_name"] == "Chantal"
    assert slots["job_title"] is None


async def test_a_word_read_as_a_civility_in_another_answer_changes_nothing(
    domain: dict,
) -> None:
    slots, messages = await validate(
        domain,
        slot("civility", "Mme"),
        slot("id_document_type", "passport"),
        asked("id_document_country"),
        user("France", entities={"civility": "France"}),
        slot("civility", "France"),
    )
    assert slots["civility"] == "Mme"
    assert slots["id_document_country"] == "FR"
    assert messages == []
