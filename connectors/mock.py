"""The mock provincial systems of the simulation: who they are, as data the demo registers."""

import random
from dataclasses import dataclass
from typing import Any


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

DISTRICTS = [
    "Thủ Đức",
    "Bình Chánh",
    "Củ Chi",
    "Hóc Môn",
    "Nhà Bè",
    "Cần Giờ",
    "Quận 1",
    "Quận 3",
    "Quận 4",
    "Quận 5",
    "Quận 6",
    "Quận 7",
    "Quận 8",
    "Quận 10",
    "Quận 11",
    "Quận 12",
    "Bình Thạnh",
    "Gò Vấp",
    "Phú Nhuận",
    "Tân Bình",
    "Tân Phú",
    "Bình Tân",
]


def district_agencies(count: int) -> list[MockAgency]:
    """District people's committees, each running a district one-stop-shop."""
    return [
        MockAgency(f"UBND-H{i + 1:02d}", f"UBND {DISTRICTS[i % len(DISTRICTS)]}", "district")
        for i in range(count)
    ]


def mock_systems(count: int, seed: int = 0) -> tuple[list[MockAgency], list[MockSystem]]:
    """`count` systems: the provincial core (with one exempt system) first, then district systems."""
    rng = random.Random(seed)
    # The exempt (state-secret) system is always among them, to show it does not count.
    exempt = [s for s in CORE_SYSTEMS if s.exempt_reason] if count >= 2 else []
    core = [s for s in CORE_SYSTEMS if not s.exempt_reason][: count - len(exempt)] + exempt
    extra = max(0, count - len(core))
    districts = district_agencies(max(1, (extra + 1) // 2)) if extra else []
    systems = list(core)
    for i in range(extra):
        agency = districts[i // 2]
        kind = "information_system" if i % 2 == 0 else rng.choice(["database", "information_system"])
        label = "Một cửa" if i % 2 == 0 else "CSDL chuyên ngành"
        systems.append(
            MockSystem(
                f"{agency.code}-{'MC' if i % 2 == 0 else 'CSDL'}",
                f"{label} {agency.name}",
                agency.code,
                level="district",
                kind=kind,
            )
        )
    return AGENCIES + districts, systems
