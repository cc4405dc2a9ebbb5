"""Land (đất đai): land-use-right certificates held by heads of household, sometimes with their spouse."""

import math
import random
from collections.abc import Sequence
from datetime import date
from typing import Any

from connectors.datasets.places import RURAL_COMMUNES, street_address
from connectors.datasets.population import Household
from connectors.datasets.sampling import SerialPool, Weighted, add_years, age_on, random_date
from connectors.datasets.sqlite import Batch, Row, SqliteStore, Table

LAND_CERTIFICATES = Table(
    "land_use_certificates",
    (
        ("certificate_no", "TEXT NOT NULL"),
        ("holder_id", "TEXT NOT NULL"),
        ("holder_name", "TEXT NOT NULL"),
        ("co_holder_id", "TEXT"),
        ("co_holder_name", "TEXT"),
        ("map_sheet", "INTEGER NOT NULL"),
        ("parcel_no", "INTEGER NOT NULL"),
        ("area_m2", "REAL NOT NULL"),
        ("land_use_purpose", "TEXT NOT NULL"),
        ("address", "TEXT NOT NULL"),
        ("commune_code", "TEXT NOT NULL"),
        ("issued_date", "TEXT NOT NULL"),
        ("valid", "BOOLEAN NOT NULL"),
    ),
    unique=("certificate_no",),
    indexed=("holder_id", "co_holder_id"),
)

# Certificate blanks are printed in lettered series used up over time, about one series per 4 years.
_FIRST_YEAR = 1995
_SERIES = ("AA", "AB", "BA", "BB", "CS", "CT", "DA", "DB", "DC")
_URBAN_RESIDENTIAL = "Đất ở tại đô thị (ODT)"
_RURAL_PURPOSES: Weighted[str] = Weighted(
    (
        ("Đất ở tại nông thôn (ONT)", 5),
        ("Đất trồng cây lâu năm (CLN)", 3),
        ("Đất chuyên trồng lúa nước (LUC)", 2),
    )
)


class LandGenerator:
    """Derives land-use-right certificates from households."""

    def __init__(self, rng: random.Random, as_of: date, *, holding_share: float) -> None:
        self._rng = rng
        self._as_of = as_of
        self._holding_share = holding_share
        self._serials = SerialPool(rng, 10**6)

    def rows(self, households: Sequence[Household]) -> Batch:
        """Certificate rows: the home parcel of a share of households, and now and then a second one."""
        rng = self._rng
        rows: list[Row] = []
        for household in households:
            head = household.head
            if age_on(head.birth_date, self._as_of) < 18 or rng.random() >= self._holding_share:
                continue
            spouse = next((p for p in household.members if p.citizen_id == head.spouse_id), None)
            # The home first, then possibly farmland or a second house in the outer districts.
            parcels = [(household.commune, household.street)]
            if rng.random() < 0.15:
                parcels.append((RURAL_COMMUNES.pick(rng), street_address(rng)))
            for commune, street in parcels:
                co_holder = spouse if spouse and rng.random() < 0.7 else None
                if commune.rural:
                    purpose = _RURAL_PURPOSES.pick(rng)
                    area = min(max(rng.lognormvariate(math.log(350), 0.9), 60.0), 30_000.0)
                else:
                    purpose = _URBAN_RESIDENTIAL
                    area = min(max(rng.lognormvariate(math.log(70), 0.45), 25.0), 600.0)
                earliest = max(add_years(head.birth_date, 18), date(_FIRST_YEAR, 1, 1))
                issued = random_date(rng, earliest, self._as_of)
                series = _SERIES[min((issued.year - _FIRST_YEAR) // 4, len(_SERIES) - 1)]
                rows.append(
                    (
                        f"{series} {self._serials.next(series):06d}",
                        head.citizen_id,
                        head.full_name,
                        co_holder.citizen_id if co_holder else None,
                        co_holder.full_name if co_holder else None,
                        rng.randrange(1, 80),
                        rng.randrange(1, 1000),
                        round(area, 1),
                        purpose,
                        f"{street}, {commune.full_name}",
                        commune.code,
                        issued.isoformat(),
                        rng.random() < 0.94,  # the rest were revoked or replaced after a transfer
                    )
                )
        return {LAND_CERTIFICATES: rows}


class LandStore(SqliteStore):
    """The provincial land database (CSDL đất đai) of the Department of Natural Resources and Environment."""

    DATASET = "land"
    TABLES = (LAND_CERTIFICATES,)

    async def land_certificates(self, holder_id: str) -> list[dict[str, Any]]:
        """Certificates naming this citizen as holder or co-holder, oldest first."""
        return await self._all(
            LAND_CERTIFICATES, "holder_id = ? OR co_holder_id = ? ORDER BY issued_date", holder_id, holder_id
        )

    async def land_certificate(self, certificate_no: str) -> dict[str, Any] | None:
        """One certificate by its number ("CS 123456"), or None."""
        return await self._one(LAND_CERTIFICATES, "certificate_no = ?", certificate_no)
