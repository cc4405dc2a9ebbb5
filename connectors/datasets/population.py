"""The population: households of people with names, ids, family ties and a permanent residence.

It is generated first and stored as the national population database (the NGSP stub's); every other
store is then derived from it household by household, so a birth record's parents, a land holder or a
card holder always exist here.
"""

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from connectors.datasets.names import FAMILY_NAMES, Gender, full_name
from connectors.datasets.places import (
    CITIZEN_PROVINCE_CODE,
    COMMUNE_BY_CODE,
    COMMUNES,
    MIGRANT_PROVINCES,
    PROVINCE_CODE,
    Commune,
    street_address,
)
from connectors.datasets.sampling import ONE_DAY, SerialPool, Weighted, add_years, random_date
from connectors.datasets.sqlite import Batch, SqliteStore, Table, connect_read_only

GENDERS: dict[str, Gender] = {"male": "male", "female": "female"}
HEAD, WIFE, HUSBAND, CHILD, FATHER, MOTHER = "Chủ hộ", "Vợ", "Chồng", "Con", "Cha", "Mẹ"

# Shares of household kinds, giving about 3.4 people per household (the city's census figure is 3.3).
_HOUSEHOLD_KINDS: Weighted[str] = Weighted(
    (("single", 14), ("couple", 12), ("nuclear", 46), ("single_parent", 10), ("three_generations", 18))
)
_CHILD_COUNTS: Weighted[int] = Weighted(((1, 35), (2, 45), (3, 15), (4, 5)))
# Share of adults born in the city rather than registered elsewhere and moved in.
_BORN_HERE = 0.6


@dataclass(slots=True)
class Person:
    """One citizen, as the population database holds them."""

    citizen_id: str
    full_name: str
    gender: Gender
    birth_date: date
    relation: str  # to the head of household, as the residence register words it
    father_id: str | None = None
    mother_id: str | None = None
    spouse_id: str | None = None


@dataclass(frozen=True, slots=True)
class Household:
    """People registered at one permanent residence; the head comes first."""

    household_id: str
    commune: Commune
    street: str
    members: tuple[Person, ...]

    @property
    def head(self) -> Person:
        """The head of household."""
        return self.members[0]

    @property
    def address(self) -> str:
        """The full permanent-residence address."""
        return f"{self.street}, {self.commune.full_name}"


def citizen_id(province: str, gender: Gender, birth_year: int, serial: int) -> str:
    """A 12-digit citizen id (CCCD): province of birth registration, gender-and-century digit,
    two-digit birth year, six-digit serial.

    The fourth digit is 0/1 for men/women born in the 1900s, 2/3 in the 2000s, 4/5 in the 2100s.
    """
    century = birth_year // 100 - 19
    if not 0 <= century <= 2:
        raise ValueError(f"no citizen-id century digit for birth year {birth_year}")
    digit = 2 * century + (gender == "female")
    return f"{province}{digit}{birth_year % 100:02d}{serial:06d}"


CITIZENS = Table(
    "citizens",
    (
        ("citizen_id", "TEXT NOT NULL"),
        ("full_name", "TEXT NOT NULL"),
        ("gender", "TEXT NOT NULL"),
        ("birth_date", "TEXT NOT NULL"),
        ("relation_to_head", "TEXT NOT NULL"),
        ("father_id", "TEXT"),
        ("mother_id", "TEXT"),
        ("spouse_id", "TEXT"),
        ("household_id", "TEXT NOT NULL"),
        ("commune_code", "TEXT NOT NULL"),
        ("street", "TEXT NOT NULL"),
        ("province_code", "TEXT NOT NULL"),
        ("permanent_address", "TEXT NOT NULL"),
    ),
    unique=("citizen_id",),
    indexed=("household_id",),
)
# The leading columns are exactly what it takes to rebuild people and households.
_REBUILD_COLUMNS = 11


class PopulationGenerator:
    """Builds households one at a time from a seeded random stream, as of a reference date."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self._rng = rng
        self._as_of = as_of
        self._serials = SerialPool(rng, 10**6)
        self._households = 0

    def batches(self, citizens: int, batch_size: int) -> Iterator[list[Household]]:
        """Households holding exactly `citizens` people in all, in batches of about `batch_size`."""
        remaining, batch, size = citizens, list[Household](), 0
        while remaining > 0:
            household = self._household(remaining)
            remaining -= len(household.members)
            batch.append(household)
            size += len(household.members)
            if size >= batch_size:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def rows(self, households: Sequence[Household]) -> Batch:
        """The population-table rows of these households."""
        return {
            CITIZENS: [
                (
                    person.citizen_id,
                    person.full_name,
                    person.gender,
                    person.birth_date.isoformat(),
                    person.relation,
                    person.father_id,
                    person.mother_id,
                    person.spouse_id,
                    household.household_id,
                    household.commune.code,
                    household.street,
                    PROVINCE_CODE,
                    household.address,
                )
                for household in households
                for person in household.members
            ]
        }

    def _household(self, room: int) -> Household:
        members = self._members(_HOUSEHOLD_KINDS.pick(self._rng))
        if len(members) > room:
            # Only the last household can overflow the requested total; a one-person one always fits.
            members = self._members("single")
        self._households += 1
        commune = COMMUNES.pick(self._rng)
        return Household(f"HGD{self._households:09d}", commune, street_address(self._rng), tuple(members))

    def _members(self, kind: str) -> list[Person]:
        rng = self._rng
        if kind == "single":
            return [self._adult(self._gender(0.5), self._birth(18, 90, 28), HEAD)]
        if kind == "single_parent":
            parent = self._adult(self._gender(0.75), self._birth(24, 62, 38), HEAD)
            return [parent, *self._children_of([parent])]
        if kind == "couple":
            return self._couple(self._birth(22, 88, 45))
        if kind == "nuclear":
            couple = self._couple(self._birth(24, 65, 38))
            return couple + self._children_of(couple)
        # three generations: the head, maybe a spouse, the head's parents, the head's children
        head_birth, family = self._birth(26, 58, 40), FAMILY_NAMES.pick(rng)
        elders: list[Person] = []
        if rng.random() < 0.55:
            birth = random_date(rng, add_years(head_birth, -38), add_years(head_birth, -23))
            elders.append(self._person("male", birth, FATHER, family, born_here=rng.random() < _BORN_HERE))
        if rng.random() < 0.85:
            birth = random_date(rng, add_years(head_birth, -36), add_years(head_birth, -20))
            elders.append(self._adult("female", birth, MOTHER))
        if len(elders) == 2:
            elders[0].spouse_id, elders[1].spouse_id = elders[1].citizen_id, elders[0].citizen_id
        # A family that kept its parents at home is a family from here.
        if rng.random() < 0.8:
            couple = self._couple(head_birth, family=family, born_here=True)
        else:
            couple = [self._person(self._gender(0.4), head_birth, HEAD, family, born_here=True)]
        head = couple[0]
        for elder in elders:
            if elder.gender == "male":
                head.father_id = elder.citizen_id
            else:
                head.mother_id = elder.citizen_id
        return [*couple, *elders, *self._children_of(couple)]

    def _couple(
        self, head_birth: date, *, family: str | None = None, born_here: bool = False
    ) -> list[Person]:
        """A head of household and spouse, the head male three times in four, both old enough to wed."""
        rng = self._rng
        gap = timedelta(days=int(rng.gauss(3, 3) * 365))  # husbands are a few years older, on average
        gap = max(min(gap, timedelta(days=15 * 365)), timedelta(days=-4 * 365))
        head_gender = self._gender(0.25)
        here = born_here or rng.random() < _BORN_HERE
        head = self._person(head_gender, head_birth, HEAD, family or FAMILY_NAMES.pick(rng), born_here=here)
        latest_wife, latest_husband = add_years(self._as_of, -18), add_years(self._as_of, -20)
        if head_gender == "male":
            spouse = self._adult("female", min(head_birth + gap, latest_wife), WIFE)
        else:
            spouse = self._adult("male", min(head_birth - gap, latest_husband), HUSBAND)
        head.spouse_id, spouse.spouse_id = spouse.citizen_id, head.citizen_id
        return [head, spouse]

    def _children_of(self, couple: list[Person]) -> list[Person]:
        if len(couple) == 1:
            parent = couple[0]
            father, mother = (parent, None) if parent.gender == "male" else (None, parent)
        else:
            father, mother = (couple[0], couple[1]) if couple[0].gender == "male" else (couple[1], couple[0])
        family = (father or couple[0]).full_name.split(" ", 1)[0]  # children take the father's name
        return self._children(father, mother, family)

    def _children(self, father: Person | None, mother: Person | None, family: str) -> list[Person]:
        """Children born in the city, the first when the mother is 20 to 32, then every 1.5 to 6 years."""
        rng = self._rng
        bounds = [add_years(mother.birth_date, 20)] if mother else []
        if father:
            bounds.append(add_years(father.birth_date, 21))
        earliest = max(bounds)
        born = random_date(rng, earliest, add_years(earliest, 12))
        latest = min(self._as_of, add_years(mother.birth_date, 45)) if mother else self._as_of
        children = []
        for _ in range(_CHILD_COUNTS.pick(rng)):
            if born > latest:
                break
            child = self._person(self._gender(0.5), born, CHILD, family, born_here=True)
            child.father_id = father.citizen_id if father else None
            child.mother_id = mother.citizen_id if mother else None
            children.append(child)
            born += timedelta(days=rng.randrange(540, 2200))
        return children

    def _adult(self, gender: Gender, birth: date, relation: str) -> Person:
        """Someone joining by marriage or living alone: born here or registered elsewhere."""
        here = self._rng.random() < _BORN_HERE
        return self._person(gender, birth, relation, FAMILY_NAMES.pick(self._rng), born_here=here)

    def _person(self, gender: Gender, birth: date, relation: str, family: str, *, born_here: bool) -> Person:
        rng = self._rng
        province = CITIZEN_PROVINCE_CODE if born_here else MIGRANT_PROVINCES.pick(rng)
        key = (province, gender, birth.year)
        number = citizen_id(province, gender, birth.year, self._serials.next(key))
        return Person(number, full_name(rng, gender, birth.year, family), gender, birth, relation)

    def _gender(self, female_share: float) -> Gender:
        return "female" if self._rng.random() < female_share else "male"

    def _birth(self, youngest: int, oldest: int, mode: int) -> date:
        """A birth date for an age drawn between `youngest` and `oldest`, most often `mode`."""
        age = min(int(self._rng.triangular(youngest, oldest + 1, mode)), oldest)
        return random_date(
            self._rng, add_years(self._as_of, -age - 1) + ONE_DAY, add_years(self._as_of, -age)
        )


async def read_households(path: Path, batch_size: int) -> AsyncIterator[list[Household]]:
    """Stream the stored population back as whole households, about `batch_size` people at a time."""
    connection = await connect_read_only(path)
    try:
        columns = ", ".join(CITIZENS.column_names[:_REBUILD_COLUMNS])
        async with connection.execute(f"SELECT {columns} FROM citizens ORDER BY rowid") as cursor:
            pending: list[Any] = []  # rows of the household being read, which may go on in the next fetch
            while rows := await cursor.fetchmany(batch_size):
                households = []
                for row in rows:
                    if pending and pending[0][8] != row[8]:
                        households.append(_rebuild(pending))
                        pending = []
                    pending.append(row)
                if households:
                    yield households
            if pending:
                yield [_rebuild(pending)]
    finally:
        await connection.close()


def _rebuild(rows: Sequence[Any]) -> Household:
    """A household from its stored rows, in the leading column order of CITIZENS."""
    members = tuple(
        Person(row[0], row[1], GENDERS[row[2]], date.fromisoformat(row[3]), row[4], row[5], row[6], row[7])
        for row in rows
    )
    return Household(rows[0][8], COMMUNE_BY_CODE[rows[0][9]], rows[0][10], members)


class PopulationStore(SqliteStore):
    """The national population database (CSDLQG về dân cư), as the NGSP stub serves it."""

    DATASET = "population"
    TABLES = (CITIZENS,)

    async def person(self, citizen_id: str) -> dict[str, Any] | None:
        """Everything held on one citizen, or None if the id is unknown."""
        return await self._one(CITIZENS, "citizen_id = ?", citizen_id)

    async def household(self, household_id: str) -> list[dict[str, Any]]:
        """The members of a household, head first; empty if unknown."""
        return await self._all(CITIZENS, "household_id = ? ORDER BY rowid", household_id)

    async def sample_citizens(self, n: int, seed: int) -> list[str]:
        """`n` distinct citizen ids that exist, the same ones for the same seed."""
        return await self._sample(CITIZENS, "citizen_id", n, seed)
