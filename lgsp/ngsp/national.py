"""What lies behind the NGSP: the national databases, and other provinces reachable through it.

The national population database (CSDLQG về dân cư) and the national business-registration database
answer from the population and business stores of the generated datasets. Other provinces are simulated
here too: a province's civil-status system holds the birth records of the citizens whose id says they
were registered there (the first three digits of a citizen id are the province of registration), so a
request from this province about a migrant goes to the province the migrant was born in.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from connectors.datasets import BusinessStore, Datasets, PopulationStore
from schemas.common import NATIONAL
from schemas.messages import Fault

Lookup = Callable[[str], Awaitable[dict[str, Any] | None]]

#: Other provinces reachable through the NGSP: area code -> (citizen-id prefix, name).
PROVINCES: dict[str, tuple[str, str]] = {
    "HNI": ("001", "Thành phố Hà Nội"),
    "DNG": ("048", "Thành phố Đà Nẵng"),
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
    """The services the NGSP reaches beyond this province, answered from the national stores."""

    def __init__(self, population: PopulationStore, business: BusinessStore) -> None:
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
        for area, (prefix, name) in PROVINCES.items():
            services.append(
                NationalService(
                    f"{area}/HO-TICH",
                    "birth-record.get",
                    f"Trích lục khai sinh, {name}",
                    "citizen_id",
                    _CITIZEN_ID,
                    self._birth_record_of(prefix, name),
                )
            )
        self.services = {(s.provider, s.code): s for s in services}

    @classmethod
    async def open(cls, datasets: Datasets) -> "NationalSide":
        """The national side over the population and business stores of `datasets`."""
        return cls(await datasets.open(PopulationStore), await datasets.open(BusinessStore))

    async def close(self) -> None:
        """Close the stores."""
        await self.population.close()
        await self.business.close()

    def providers(self) -> set[str]:
        """Every provider address served here."""
        return {provider for provider, _ in self.services}

    async def answer(self, provider: str, service: str, payload: dict[str, Any]) -> dict[str, Any] | Fault:
        """The answer of `provider`'s `service`, shaped like the provincial mock systems' answers."""
        offered = self.services.get((provider, service))
        if offered is None:
            what = "no such provider" if provider not in self.providers() else f"no service {service}"
            return Fault(code="client.unknown_service", message=f"{provider}: {what}")
        fault = offered.validate(payload)
        if fault is not None:
            return fault
        found = await offered.lookup(payload[offered.key])
        return {"found": found is not None, "record": found}

    def _birth_record_of(self, prefix: str, province: str) -> Lookup:
        async def birth_record(citizen_id: str) -> dict[str, Any] | None:
            if not citizen_id.startswith(prefix):
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
