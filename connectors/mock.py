"""The mock provincial systems of the simulation: who they are, as data the demo registers."""

import random
from dataclasses import dataclass
from typing import Any

from connectors.datasets.admin_units_2025 import HCM_COMMUNES_2025


@dataclass(frozen=True, slots=True)
class MockAgency:
    code: str
    name: str
    level: str = "province"


@dataclass(frozen=True, slots=True)
class MockSystem:
    code: str
    name: str
    agency: str
    level: str = "province"
    kind: str = "information_system"
    exempt_reason: str | None = None

    def registration(self) -> dict[str, Any]:
        """The body of POST /api/v1/systems for this system."""
        return {
            "code": self.code,
            "name": self.name,
            "agency_code": self.agency,
            "level": self.level,
            "kind": self.kind,
            "exempt": self.exempt_reason is not None,
            "exempt_reason": self.exempt_reason,
        }


AGENCIES = [
    MockAgency("UBND-TINH", "Ủy ban nhân dân tỉnh"),
    MockAgency("VP-UBND", "Văn phòng UBND tỉnh"),
    MockAgency("SO-TP", "Sở Tư pháp"),
    MockAgency("SO-TNMT", "Sở Tài nguyên và Môi trường"),
    MockAgency("SO-KHDT", "Sở Kế hoạch và Đầu tư"),
    MockAgency("BHXH-TINH", "Bảo hiểm xã hội tỉnh"),
    MockAgency("CA-TINH", "Công an tỉnh"),
    MockAgency("SO-YT", "Sở Y tế"),
    MockAgency("SO-GDDT", "Sở Giáo dục và Đào tạo"),
]

CORE_SYSTEMS = [
    MockSystem("MOT-CUA", "Hệ thống thông tin giải quyết thủ tục hành chính (Một cửa điện tử)", "VP-UBND"),
    MockSystem("QLVB", "Hệ thống quản lý văn bản và điều hành", "VP-UBND"),
    MockSystem("HO-TICH", "Cơ sở dữ liệu hộ tịch điện tử", "SO-TP", kind="database"),
    MockSystem("DAT-DAI", "Cơ sở dữ liệu đất đai", "SO-TNMT", kind="database"),
    MockSystem("DKKD", "Cơ sở dữ liệu đăng ký doanh nghiệp và hộ kinh doanh", "SO-KHDT", kind="database"),
    MockSystem("BHXH", "Cơ sở dữ liệu bảo hiểm xã hội, bảo hiểm y tế", "BHXH-TINH", kind="database"),
    MockSystem("LLTP", "Cơ sở dữ liệu lý lịch tư pháp", "SO-TP", kind="database"),
    MockSystem("BAO-CAO", "Hệ thống thông tin báo cáo tỉnh", "UBND-TINH"),
    MockSystem("Y-TE", "Cơ sở dữ liệu y tế, tiêm chủng", "SO-YT", kind="database"),
    MockSystem("GIAO-DUC", "Cơ sở dữ liệu giáo dục và đào tạo", "SO-GDDT", kind="database"),
    MockSystem(
        "MAT-CA", "Hệ thống thông tin nghiệp vụ công an (mật)", "CA-TINH", exempt_reason="state secret"
    ),
]

#: The commune-level units whose people's committees run systems in the fleet: every fifth unit of the
#: sample of the city's units since 1 July 2025 (connectors/datasets/admin_units_2025.py), spread across it.
COMMUNE_UNITS = [name for _, name, _ in HCM_COMMUNES_2025[::5]]


def commune_agencies(count: int) -> list[MockAgency]:
    """Commune people's committees (wards and communes: districts no longer exist since 1 July 2025),
    each running a commune one-stop shop and a commune database."""
    units = [COMMUNE_UNITS[i % len(COMMUNE_UNITS)] for i in range(count)]
    # "UBND phường Sài Gòn": the kind of unit is lower case inside a name.
    return [
        MockAgency(f"UBND-X{i + 1:02d}", f"UBND {unit[0].lower()}{unit[1:]}", "commune")
        for i, unit in enumerate(units)
    ]


def mock_systems(count: int, seed: int = 0) -> tuple[list[MockAgency], list[MockSystem]]:
    """`count` systems: the provincial core (with one exempt system) first, then commune systems."""
    rng = random.Random(seed)
    # The exempt (state-secret) system is always among them, to show it does not count.
    exempt = [s for s in CORE_SYSTEMS if s.exempt_reason] if count >= 2 else []
    core = [s for s in CORE_SYSTEMS if not s.exempt_reason][: count - len(exempt)] + exempt
    extra = max(0, count - len(core))
    communes = commune_agencies(max(1, (extra + 1) // 2)) if extra else []
    systems = list(core)
    for i in range(extra):
        agency = communes[i // 2]
        kind = "information_system" if i % 2 == 0 else rng.choice(["database", "information_system"])
        label = "Một cửa" if i % 2 == 0 else "CSDL chuyên ngành"
        systems.append(
            MockSystem(
                f"{agency.code}-{'MC' if i % 2 == 0 else 'CSDL'}",
                f"{label} {agency.name}",
                agency.code,
                level="commune",
                kind=kind,
            )
        )
    return AGENCIES + communes, systems
