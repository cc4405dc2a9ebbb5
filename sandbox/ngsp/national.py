"""What lies behind the national platform (NDXP, Nền tảng tích hợp, chia sẻ dữ liệu quốc gia; formerly
called NGSP): the national databases, and the other provinces reachable through it.

The national population database (CSDLQG về dân cư) and the national business-registration database
answer from the population and business stores of the generated datasets. Other provinces are simulated
here too, the 34 of the map since 1 July 2025 (connectors/datasets/admin_units_2025.py): a province's
civil-status system holds the birth records of the citizens whose id says they were registered there
(the first three digits of a citizen id are the province of registration, as it was then: a merged
province holds the records of every province it was made of), so a request from this province about a
migrant goes to the province the migrant was born in.

The population database also holds document types of the once-only catalogue (identity, residence
confirmation): it answers `evidence.get` and `evidence.register` like the mock provincial holders do,
with the same `EvidenceHolder`.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from connectors.datasets import DEFAULT_AS_OF, BusinessStore, Datasets, PopulationStore
from connectors.datasets.admin_units_2025 import PROVINCES_2025
from connectors.datasets.places import PROVINCE_CODE
from connectors.evidence import EvidenceHolder
from schemas.common import NATIONAL
from schemas.messages import Fault
from schemas.onceonly import Catalogue, load_catalogue

Lookup = Callable[[str], Awaitable[dict[str, Any] | None]]

#: Other provinces reachable through the NDXP, every one but the datasets' own (reached through its own
#: hub): area code -> (citizen-id prefixes, name).
PROVINCES: dict[str, tuple[tuple[str, ...], str]] = {
    p.short: (p.citizen_prefixes, p.name) for p in PROVINCES_2025 if p.code != PROVINCE_CODE
}
_CITIZEN_ID = re.compile(r"^[0-9]{12}$")
_TAX_CODE = re.compile(r"^[0-9]{10}(-[0-9]{3})?$")


@dataclass(frozen=True, slots=True)
class NationalService:
    """One service behind the NGSP: who offers it, the one key it is asked by, and how it answers."""

    provider: str
    code: str
    description: str
    key: str
    pattern: re.Pattern[str]
    lookup: Lookup

    def validate(self, payload: dict[str, Any]) -> Fault | None:
        """Why this payload is not a valid request, or None."""
        value = payload.get(self.key)
        if set(payload) != {self.key} or not isinstance(value, str) or not self.pattern.match(value):
            return Fault(
                code="client.bad_request", message=f"payload must be {{{self.key!r}: {self.pattern.pattern}}}"
            )
        return None


class NationalSide:
    """The services the NGSP reaches beyond this province, answered from the national stores.

    `services` are the record lookups asked by one key; `holders` the national holders of once-only
    document types (those of `catalogue`, the shipped one by default, at a `VN/` address) by provider,
    serving the evidence services. `as_of` is the datasets' reference date.
    """

    def __init__(
        self,
        population: PopulationStore,
        business: BusinessStore,
        *,
        catalogue: Catalogue | None = None,
        as_of: date = DEFAULT_AS_OF,
    ) -> None:
        self.population = population
        self.business = business
        services = [
            NationalService(
                f"{NATIONAL}/DAN-CU",
                "citizen.get",
                "Thông tin công dân (national population database) by citizen id",
                "citizen_id",
                _CITIZEN_ID,
                self.population.person,
            ),
            NationalService(
                f"{NATIONAL}/DKDN",
                "enterprise.get",
                "Thông tin đăng ký doanh nghiệp (national business registration) by tax code",
                "tax_code",
                _TAX_CODE,
                self.business.business,
            ),
        ]
        for area, (prefixes, name) in PROVINCES.items():
            services.append(
                NationalService(
                    f"{area}/HO-TICH",
                    "birth-record.get",
                    f"Trích lục khai sinh, {name}",
                    "citizen_id",
                    _CITIZEN_ID,
                    self._birth_record_of(prefixes, name),
                )
            )
        self.services = {(s.provider, s.code): s for s in services}
        # Kept apart from the keyed lookups: an evidence payload is a structured document query, and
        # callers (the demo's workload) read `services` as lookups by one key.
        catalogue = catalogue or load_catalogue()
        self.holders = {
            holder: EvidenceHolder(holder, catalogue, [population, business], as_of=as_of)
            for holder in sorted(catalogue.holders())
            if holder.startswith(f"{NATIONAL}/")
        }

    @classmethod
    async def open(cls, datasets: Datasets) -> "NationalSide":
        """The national side over the population and business stores of `datasets`."""
        population, business = await datasets.open(PopulationStore), await datasets.open(BusinessStore)
        return cls(population, business, as_of=datasets.as_of)

    async def close(self) -> None:
        """Close the stores."""
        await self.population.close()
        await self.business.close()

    def providers(self) -> set[str]:
        """Every provider address served here."""
        return {provider for provider, _ in self.services} | set(self.holders)

    async def answer(self, provider: str, service: str, payload: dict[str, Any]) -> dict[str, Any] | Fault:
        """The answer of `provider`'s `service`, shaped like the provincial mock systems' answers."""
        holder = self.holders.get(provider)
        evidence = holder.handlers().get(service) if holder is not None else None
        if evidence is not None:
            try:
                return await evidence(payload)
            except ValueError as exc:  # a malformed query, or a type this holder does not hold
                return Fault(code="client.bad_request", message=str(exc)[:1000])
        offered = self.services.get((provider, service))
        if offered is None:
            what = "no such provider" if provider not in self.providers() else f"no service {service}"
            return Fault(code="client.unknown_service", message=f"{provider}: {what}")
        fault = offered.validate(payload)
        if fault is not None:
            return fault
        found = await offered.lookup(payload[offered.key])
        return {"found": found is not None, "record": found}

    def _birth_record_of(self, prefixes: tuple[str, ...], province: str) -> Lookup:
        async def birth_record(citizen_id: str) -> dict[str, Any] | None:
            if not citizen_id.startswith(prefixes):
                return None  # registered in another province
            person = await self.population.person(citizen_id)
            if person is None:
                return None
            return {
                "citizen_id": citizen_id,
                "full_name": person["full_name"],
                "gender": person["gender"],
                "birth_date": person["birth_date"],
                "registered_in": province,
            }

        return birth_record
