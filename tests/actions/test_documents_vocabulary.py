"""How users name their identity document and the country that issued it."""

from __future__ import annotations

import pytest

from actions.documents_vocabulary import to_country, to_document_type


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("carte d'identité", ("cni", "FR")),
        ("ma CNI", ("cni", "FR")),
        ("la nouvelle carte d identite", ("cni", "FR")),
        ("carte nationale d’identité française", ("cni", "FR")),
        ("passeport", ("passport", None)),
        ("un passeport italien", ("passport", "IT")),
        ("Passport des Pays-Bas", ("passport", "NL")),
        ("mon titre de séjour", ("residence_permit", "FR")),
        ("carte de resident", ("residence_permit", "FR")),
        ("residence_permit", ("residence_permit", "FR")),
        # Typed fast: one letter swapped or missing.
        ("ma crate d'identité", ("cni", "FR")),
        ("passeprot italien", ("passport", "IT")),
        ("titre de sejuor", ("residence_permit", "FR")),
    ],
)
def test_accepted_documents_are_recognised(typed: str, expected: tuple) -> None:
    assert to_document_type(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("mon permis de conduire", "«\u00a0permis de conduire\u00a0» n'est pas accepté"),
        ("carte vitale", "«\u00a0carte Vitale\u00a0» n'est pas accepté"),
        ("une carte d'identité belge", "Seule la carte d'identité française"),
        ("titre de séjour espagnol", "délivré par la France"),
        ("passeport marocain", "(Maroc) n'est pas accepté"),
        ("un truc", "Je n'ai pas reconnu ce document"),
    ],
)
def test_other_documents_are_refused_with_the_list(typed: str, expected: str) -> None:
    with pytest.raises(ValueError) as refused:
        to_document_type(typed)
    assert expected in str(refused.value)
    if "Maroc" not in expected:
        assert "passeport délivré par un pays de l'Union européenne" in str(refused.value)


@pytest.mark.parametrize(
    ("typed", "code"),
    [("Italie", "IT"), ("espagnol", "ES"), ("la Grèce", "GR"), ("grece", "GR"), ("Suède", "SE")],
)
def test_eu_countries_in_any_spelling(typed: str, code: str) -> None:
    assert to_country(typed) == code


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Royaume-Uni", "(Royaume-Uni) n'est pas accepté"),
        ("il est suisse", "(Suisse) n'est pas accepté"),
        ("je ne sais pas", "Je n'ai pas reconnu le pays"),
    ],
)
def test_other_countries_are_refused(typed: str, expected: str) -> None:
    with pytest.raises(ValueError) as refused:
        to_country(typed)
    assert expected in str(refused.value)
