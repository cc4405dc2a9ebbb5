"""Civil status (hộ tịch): birth and marriage registrations and marital-status confirmations.

Each commune's people's committee keeps the registers; entries are numbered per commune and year
("125/2019"). Births are derived from the population's parent links, marriages from its spouse links,
so every parent and spouse named here exists in the population database.
"""

import random
from collections.abc import Sequence
from datetime import date
from typing import Any

from connectors.datasets.places import CITIZEN_PROVINCE_CODE, Commune
from connectors.datasets.population import Household, Person
from connectors.datasets.sampling import (
    ONE_DAY,
    Counters,
    Weighted,
    add_months,
    add_years,
    age_on,
    random_date,
)
from connectors.datasets.sqlite import Batch, Row, SqliteStore, Table

_REGISTRATION = (
    ("commune_code", "TEXT NOT NULL"),
    ("registering_authority", "TEXT NOT NULL"),
)
BIRTHS = Table(
    "birth_records",
    (
        ("record_no", "TEXT NOT NULL"),
        ("child_id", "TEXT NOT NULL"),
        ("child_name", "TEXT NOT NULL"),
        ("gender", "TEXT NOT NULL"),
        ("birth_date", "TEXT NOT NULL"),
        ("birth_place", "TEXT NOT NULL"),
        ("father_id", "TEXT"),
        ("father_name", "TEXT"),
        ("mother_id", "TEXT"),
        ("mother_name", "TEXT"),
        ("registration_date", "TEXT NOT NULL"),
        *_REGISTRATION,
    ),
    unique=("child_id",),
)
MARRIAGES = Table(
    "marriage_records",
    (
        ("record_no", "TEXT NOT NULL"),
        ("husband_id", "TEXT NOT NULL"),
        ("husband_name", "TEXT NOT NULL"),
        ("wife_id", "TEXT NOT NULL"),
        ("wife_name", "TEXT NOT NULL"),
        ("registration_date", "TEXT NOT NULL"),
        *_REGISTRATION,
    ),
    indexed=("husband_id", "wife_id"),
)
CONFIRMATIONS = Table(
    "marital_status_confirmations",
    (
        ("record_no", "TEXT NOT NULL"),
        ("citizen_id", "TEXT NOT NULL"),
        ("full_name", "TEXT NOT NULL"),
        ("marital_status", "TEXT NOT NULL"),
        ("purpose", "TEXT NOT NULL"),
        ("issued_date", "TEXT NOT NULL"),
        ("valid_until", "TEXT NOT NULL"),
        *_REGISTRATION,
    ),
    indexed=("citizen_id",),
)

_MATERNITY_HOSPITALS: Weighted[str | None] = Weighted(
    (("Bệnh viện Từ Dũ", 35), ("Bệnh viện Hùng Vương", 25), (None, 40))  # None: the hospital of the area
)
_PURPOSES_SINGLE: Weighted[str] = Weighted(
    (("Đăng ký kết hôn", 6), ("Vay vốn ngân hàng", 2), ("Mua bán, chuyển nhượng nhà đất", 2))
)
_PURPOSES_OTHER: Weighted[str] = Weighted(
    (("Mua bán, chuyển nhượng nhà đất", 5), ("Vay vốn ngân hàng", 4), ("Bổ sung hồ sơ xin việc", 1))
)


class CivilStatusGenerator:
    """Derives the civil-status registers from households."""

    def __init__(self, rng: random.Random, as_of: date, *, confirmation_share: float) -> None:
        self._rng = rng
        self._as_of = as_of
        self._confirmation_share = confirmation_share
        self._numbers = Counters()

    def rows(self, households: Sequence[Household]) -> Batch:
        """Birth, marriage and confirmation rows for these households."""
        births: list[Row] = []
        marriages: list[Row] = []
        confirmations: list[Row] = []
        for household in households:
            members = {person.citizen_id: person for person in household.members}
            for person in household.members:
                # Only births registered in this province are in its register.
                if (person.father_id or person.mother_id) and person.citizen_id.startswith(
                    CITIZEN_PROVINCE_CODE
                ):
                    birth = self._birth(household, person, members)
                    if birth:
                        births.append(birth)
                if person.gender == "male" and person.spouse_id:
                    marriages.append(self._marriage(household, person, members[person.spouse_id]))
                adult = age_on(person.birth_date, self._as_of) >= (20 if person.gender == "male" else 18)
                if adult and self._rng.random() < self._confirmation_share:
                    confirmations.append(self._confirmation(household, person, members))
        return {BIRTHS: births, MARRIAGES: marriages, CONFIRMATIONS: confirmations}

    def _birth(self, household: Household, child: Person, members: dict[str, Person]) -> Row | None:
        registered = child.birth_date + self._rng.randrange(3, 60) * ONE_DAY
        if registered > self._as_of:
            return None  # born too recently: the parents have not registered the birth yet
        father = members.get(child.father_id or "")
        mother = members.get(child.mother_id or "")
        place = _MATERNITY_HOSPITALS.pick(self._rng) or household.commune.area.hospital[1]
        return (
            self._record_no("birth", household.commune, registered),
            child.citizen_id,
            child.full_name,
            child.gender,
            child.birth_date.isoformat(),
            place,
            father.citizen_id if father else None,
            father.full_name if father else None,
            mother.citizen_id if mother else None,
            mother.full_name if mother else None,
            registered.isoformat(),
            *self._registration(household.commune),
        )

    def _marriage(self, household: Household, husband: Person, wife: Person) -> Row:
        # Of legal age (20 and 18) and, as is usual, married before the first child was born.
        earliest = max(add_years(husband.birth_date, 20), add_years(wife.birth_date, 18))
        first_child = min(
            (
                person.birth_date
                for person in household.members
                if person.father_id == husband.citizen_id and person.mother_id == wife.citizen_id
            ),
            default=self._as_of,
        )
        registered = random_date(self._rng, earliest, min(first_child, self._as_of, add_years(earliest, 8)))
        return (
            self._record_no("marriage", household.commune, registered),
            husband.citizen_id,
            husband.full_name,
            wife.citizen_id,
            wife.full_name,
            registered.isoformat(),
            *self._registration(household.commune),
        )

    def _confirmation(self, household: Household, person: Person, members: dict[str, Person]) -> Row:
        rng = self._rng
        if person.spouse_id:
            spouse = members[person.spouse_id]
            status = f"Đang có chồng là ông {spouse.full_name}"
            if person.gender == "male":
                status = f"Đang có vợ là bà {spouse.full_name}"
            purpose = _PURPOSES_OTHER.pick(rng)
        elif any(person.citizen_id in (other.father_id, other.mother_id) for other in household.members):
            # A parent without a spouse at home was married once.
            status = "Đã ly hôn, chưa kết hôn lại"
            if rng.random() < 0.4:
                status = f"Có {'vợ' if person.gender == 'male' else 'chồng'} đã chết, chưa kết hôn lại"
            purpose = _PURPOSES_OTHER.pick(rng)
        else:
            status, purpose = "Chưa đăng ký kết hôn với ai", _PURPOSES_SINGLE.pick(rng)
        issued = random_date(
            rng, max(add_years(self._as_of, -2), add_years(person.birth_date, 18)), self._as_of
        )
        return (
            self._record_no("confirmation", household.commune, issued),
            person.citizen_id,
            person.full_name,
            status,
            purpose,
            issued.isoformat(),
            add_months(issued, 6).isoformat(),  # a confirmation is valid for six months
            *self._registration(household.commune),
        )

    def _record_no(self, register: str, commune: Commune, day: date) -> str:
        return f"{self._numbers.next((register, commune.code, day.year))}/{day.year}"

    @staticmethod
    def _registration(commune: Commune) -> tuple[str, str]:
        return commune.code, commune.authority


class CivilStatusStore(SqliteStore):
    """The provincial civil-status database (CSDL hộ tịch điện tử) of the Department of Justice."""

    DATASET = "civil_status"
    TABLES = (BIRTHS, MARRIAGES, CONFIRMATIONS)

    async def birth_record(self, citizen_id: str) -> dict[str, Any] | None:
        """The registration of this person's birth, or None if it was not registered here."""
        return await self._one(BIRTHS, "child_id = ?", citizen_id)

    async def marriage_records(self, citizen_id: str) -> list[dict[str, Any]]:
        """Marriages registered with this person as husband or wife, oldest first."""
        return await self._all(
            MARRIAGES, "husband_id = ? OR wife_id = ? ORDER BY registration_date", citizen_id, citizen_id
        )

    async def marital_status_confirmations(self, citizen_id: str) -> list[dict[str, Any]]:
        """Confirmations of marital status issued to this person, newest first."""
        return await self._all(CONFIRMATIONS, "citizen_id = ? ORDER BY issued_date DESC", citizen_id)
