"""Simulated company representatives: each one a different person with their own e-mail.

Names come from the assistant's own lookup tables (common French names that are not
also words the NLU could take for something else); companies from the demo contract
directory. Person `n` is unique within a run for n < 9 × 30 × 30.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from bench.config import ROOT

FIRST_NAMES = (
    "Émilie Camille Julie Sophie Nathalie Isabelle Caroline Céline Sandrine Pauline "
    "Mathilde Charlotte Hélène Delphine Florence Catherine Alice Laura Thierry Sébastien "
    "Arthur Baptiste Benjamin Bruno Christophe Damien Frédéric Valentin Xavier Yves"
).split()
LAST_NAMES = (
    "Aubert Barbier Berger Blanchard Bonnet Boyer Caron Chevalier Dubois Dufour Dumas "
    "Dupont Durand Fabre Faure Fontaine Fournier Garnier Gauthier Girard Lambert Leclerc "
    "Lefèvre Legrand Lemaire Mercier Moreau Morel Perrin Rousseau"
).split()


@dataclass(frozen=True)
class Company:
    siren: str
    contract_number: str
    name: str

    @property
    def spaced_siren(self) -> str:
        """'552 100 554', as people type it."""
        return " ".join(self.siren[i : i + 3] for i in range(0, 9, 3))

    @property
    def domain(self) -> str:
        """An e-mail domain made of the company name: 'maison-demo-industries-sa.fr'."""
        return _ascii(self.name).replace(" ", "-") + ".fr"


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    company: Company

    @property
    def email(self) -> str:
        return f"{_ascii(self.first_name)}.{_ascii(self.last_name)}@{self.company.domain}"


@lru_cache(maxsize=1)
def companies() -> tuple[Company, ...]:
    """The demo contract directory (bot/data/demo_contracts.csv)."""
    with (ROOT / "bot" / "data" / "demo_contracts.csv").open(encoding="utf-8") as rows:
        return tuple(
            Company(row["siren"], row["contract_number"], row["company_name"])
            for row in csv.DictReader(rows)
        )


def person(index: int) -> Person:
    """The `index`-th simulated person of a run."""
    directory = companies()
    company = directory[index % len(directory)]
    rest = index // len(directory)
    first = FIRST_NAMES[rest % len(FIRST_NAMES)]
    last = LAST_NAMES[(rest // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return Person(first, last, company)


def _ascii(text: str) -> str:
    """'Lefèvre et Fils' → 'lefevre et fils'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9 -]", "", plain.lower()).strip()
