"""Social insurance (BHXH): health-insurance cards, one per insured person.

A card number such as "GD4797920012345" reads: beneficiary group (GD, households), benefit level (4),
province (79), then the holder's 10-digit social-insurance number, itself starting with the province.
"""

import random
from collections.abc import Sequence
from datetime import date
from typing import Any

from connectors.datasets.places import PROVINCE_CODE
from connectors.datasets.population import Household
from connectors.datasets.sampling import ONE_DAY, SerialPool, Weighted, add_months, add_years, age_on
from connectors.datasets.sqlite import Batch, Row, SqliteStore, Table

HEALTH_CARDS = Table(
    "health_insurance_cards",
    (
        ("card_no", "TEXT NOT NULL"),
        ("social_insurance_no", "TEXT NOT NULL"),
        ("holder_id", "TEXT NOT NULL"),
        ("holder_name", "TEXT NOT NULL"),
        ("birth_date", "TEXT NOT NULL"),
        ("gender", "TEXT NOT NULL"),
        ("beneficiary_code", "TEXT NOT NULL"),
        ("benefit_level", "INTEGER NOT NULL"),
        ("valid_from", "TEXT NOT NULL"),
        ("valid_to", "TEXT NOT NULL"),
        ("hospital_code", "TEXT NOT NULL"),
        ("hospital_name", "TEXT NOT NULL"),
    ),
    unique=("card_no", "holder_id"),
)

# (beneficiary group, benefit level) by age: children under six (TE) and pupils (HS) are covered by
# the state and schools, adults mostly through employers (DN) or as households (GD), the old through
# pensions (HT) or social allowances (BT).
_Group = tuple[str, int]
_BY_AGE: tuple[tuple[int, Weighted[_Group]], ...] = (
    (6, Weighted(((("TE", 1), 1),))),
    (18, Weighted(((("HS", 4), 1),))),
    (22, Weighted(((("HS", 4), 5), (("GD", 4), 3), (("DN", 4), 2)))),
    (
        60,
        Weighted(
            ((("DN", 4), 50), (("GD", 4), 30), (("HC", 4), 8), (("CN", 3), 5), (("HN", 1), 4), (("CC", 1), 3))
        ),
    ),
    (80, Weighted(((("HT", 2), 45), (("GD", 4), 40), (("CC", 1), 8), (("HN", 1), 7)))),
    (200, Weighted(((("BT", 2), 50), (("HT", 2), 40), (("GD", 4), 10)))),
)
# Where cards not registered at the hospital of the area (places.FormerArea) are registered for first-contact
# care.
_CITY_HOSPITALS: Weighted[tuple[str, str]] = Weighted(
    (
        (("79021", "Bệnh viện Nhân dân 115"), 3),
        (("79022", "Bệnh viện Nhân dân Gia Định"), 3),
        (("79023", "Bệnh viện Thống Nhất"), 2),
        (("79024", "Bệnh viện Đại học Y Dược Thành phố Hồ Chí Minh"), 2),
        (("79025", "Bệnh viện Nguyễn Tri Phương"), 2),
        (("79026", "Bệnh viện An Bình"), 1),
        (("79027", "Bệnh viện Trưng Vương"), 2),
        (("79028", "Bệnh viện Quân y 175"), 1),
    )
)
_LAPSED_SHARE = 0.05  # cards bought once and not renewed


class SocialInsuranceGenerator:
    """Derives health-insurance cards for the insured share of the population."""

    def __init__(self, rng: random.Random, as_of: date, *, insured_share: float) -> None:
        self._rng = rng
        self._as_of = as_of
        self._insured_share = insured_share
        self._serials = SerialPool(rng, 10**8)
        self._this_month = as_of.replace(day=1)

    def rows(self, households: Sequence[Household]) -> Batch:
        """Card rows for the insured members of these households."""
        rng = self._rng
        rows: list[Row] = []
        for household in households:
            for person in household.members:
                if rng.random() >= self._insured_share:
                    continue
                age = age_on(person.birth_date, self._as_of)
                group, level = next(groups for below, groups in _BY_AGE if age < below).pick(rng)
                if group == "TE":
                    # Children's cards run from birth to the day before their sixth birthday.
                    valid_from, valid_to = person.birth_date, add_years(person.birth_date, 6) - ONE_DAY
                else:
                    valid_from = add_months(self._this_month, -rng.randrange(12))
                    if rng.random() < _LAPSED_SHARE:
                        valid_from = add_months(valid_from, -12)
                    valid_to = add_months(valid_from, 12) - ONE_DAY
                area_hospital = rng.random() < 0.7
                hospital = household.commune.area.hospital if area_hospital else _CITY_HOSPITALS.pick(rng)
                insurance_no = f"{PROVINCE_CODE}{self._serials.next():08d}"
                rows.append(
                    (
                        f"{group}{level}{PROVINCE_CODE}{insurance_no}",
                        insurance_no,
                        person.citizen_id,
                        person.full_name,
                        person.birth_date.isoformat(),
                        person.gender,
                        group,
                        level,
                        valid_from.isoformat(),
                        valid_to.isoformat(),
                        *hospital,
                    )
                )
        return {HEALTH_CARDS: rows}


class SocialInsuranceStore(SqliteStore):
    """The provincial social-insurance and health-insurance database (CSDL BHXH, BHYT)."""

    DATASET = "social_insurance"
    TABLES = (HEALTH_CARDS,)

    async def health_card(self, citizen_id: str) -> dict[str, Any] | None:
        """This citizen's health-insurance card, or None if they are not insured."""
        return await self._one(HEALTH_CARDS, "holder_id = ?", citizen_id)
