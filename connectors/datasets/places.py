"""Administrative units of the simulated province: Ho Chi Minh City as it has been since 1 July 2025.

Two levels, province and commune-level unit (phường, xã), with the General Statistics Office's codes:
2-digit province, 5-digit commune. The units are a sample of the city's 168 (`admin_units_2025`, which
names its sources). Addresses and registering offices name the unit and the city, with no district:
districts no longer exist. Each unit remembers the district (or, beyond the former city, the province) it
lay in before, only to weight where people live by the 2019 census and to keep the hospitals people were
registered at for first-contact care (hospitals are not administrative units; they keep the names they
had then).
"""

import random
from dataclasses import dataclass

from connectors.datasets.admin_units_2025 import FORMER_AREAS, HCM_COMMUNES_2025, PROVINCES_2025
from connectors.datasets.sampling import Weighted

PROVINCE_CODE = "79"
PROVINCE_NAME = next(p.name for p in PROVINCES_2025 if p.code == PROVINCE_CODE)
# Citizen ids carry the 3-digit code of the province where the birth was registered; people born here
# before 2025 in the former Bình Dương or Bà Rịa - Vũng Tàu keep theirs (see MIGRANT_PROVINCES).
CITIZEN_PROVINCE_CODE = "0" + PROVINCE_CODE


@dataclass(frozen=True, slots=True)
class FormerArea:
    """Where a unit lay before 1 July 2025: a district of the former city, or a former province."""

    code: str
    name: str

    @property
    def hospital(self) -> tuple[str, str]:
        """Code and name of the area's hospital, where most health-insurance cards are registered."""
        if len(self.code) == 2:  # a former province: its general hospital
            return PROVINCE_CODE + "0" + self.code, f"Bệnh viện Đa khoa {self.name[0].lower()}{self.name[1:]}"
        # "Bệnh viện Quận 1" but "Bệnh viện huyện Củ Chi": only "Quận" keeps its capital inside a name.
        name = self.name if self.name.startswith("Quận") else self.name[0].lower() + self.name[1:]
        return PROVINCE_CODE + self.code, f"Bệnh viện {name}"


@dataclass(frozen=True, slots=True)
class Commune:
    """A commune-level unit: the registering office of civil status and the unit of residence."""

    code: str
    name: str
    area: FormerArea
    full_name: str  # "Phường Sài Gòn, Thành phố Hồ Chí Minh", precomputed for addresses

    @property
    def rural(self) -> bool:
        """Whether this is a rural commune (xã), where land is farmland and parcels are larger."""
        return self.name.startswith("Xã")

    @property
    def authority(self) -> str:
        """The people's committee that registers births, marriages and confirmations here."""
        return f"Ủy ban nhân dân {self.name}"


def _communes() -> tuple[tuple[Commune, float], ...]:
    areas = {code: (FormerArea(code, name), population) for code, name, population in FORMER_AREAS}
    units_in = {code: sum(1 for *_, area in HCM_COMMUNES_2025 if area == code) for code in areas}
    communes: list[tuple[Commune, float]] = []
    for code, name, area_code in HCM_COMMUNES_2025:
        area, population = areas[area_code]
        commune = Commune(code, name, area, f"{name}, {PROVINCE_NAME}")
        # The area's 2019 population shared among its units in the sample.
        communes.append((commune, population / units_in[area_code]))
    return tuple(communes)


# Weighted by the population of the former area, so Bình Tân and Thủ Đức hold far more people than Quận 1.
COMMUNES: Weighted[Commune] = Weighted(_communes())
COMMUNE_BY_CODE: dict[str, Commune] = {commune.code: commune for commune in COMMUNES.items}
# Farmland and second homes sit mostly in the rural communes and the former Thủ Đức.
RURAL_COMMUNES: Weighted[Commune] = Weighted(
    (commune, 1.0) for commune in COMMUNES.items if commune.rural or commune.area.code == "769"
)

STREETS: Weighted[str] = Weighted(
    (street, 1.0)
    for street in (
        "Nguyễn Huệ", "Lê Lợi", "Hai Bà Trưng", "Nguyễn Thị Minh Khai", "Điện Biên Phủ",
        "Cách Mạng Tháng Tám", "Võ Văn Tần", "Nguyễn Đình Chiểu", "Lý Thường Kiệt", "Trần Hưng Đạo",
        "Nguyễn Trãi", "Lê Văn Sỹ", "Phan Xích Long", "Hoàng Văn Thụ", "Quang Trung", "Nguyễn Oanh",
        "Phan Văn Trị", "Xô Viết Nghệ Tĩnh", "Bạch Đằng", "Nơ Trang Long", "Lũy Bán Bích", "Âu Cơ",
        "Kinh Dương Vương", "Tên Lửa", "Võ Văn Ngân", "Kha Vạn Cân", "Nguyễn Thị Thập",
        "Huỳnh Tấn Phát", "Phạm Thế Hiển", "Tỉnh lộ 8", "Quốc lộ 22", "Nguyễn Ảnh Thủ",
        "Lê Văn Khương", "Trường Chinh", "Cộng Hòa", "Lạc Long Quân", "Ba Tháng Hai", "Sư Vạn Hạnh",
        "Nguyễn Văn Linh", "Phạm Văn Đồng", "Lê Quang Định", "Bùi Đình Túy", "Tô Ký", "Hương lộ 2",
        "Đỗ Xuân Hợp", "Lê Văn Việt", "Nguyễn Duy Trinh", "Hậu Giang", "Hồng Bàng", "An Dương Vương",
    )
)  # fmt: skip

# Birth-registration provinces of people who moved to the city: mostly the Mekong delta, the central
# coast and the north-central provinces, as in the city's migration statistics. The codes are those of
# the provinces before 1 July 2025, which citizen ids keep: 074 and 077 (Bình Dương, Bà Rịa - Vũng Tàu)
# are part of the city now, the rest of other provinces (`admin_units_2025.PROVINCES_2025`).
MIGRANT_PROVINCES: Weighted[str] = Weighted(
    (
        ("001", 3), ("031", 1), ("034", 2), ("036", 2), ("038", 4), ("040", 4), ("042", 3),
        ("044", 2), ("046", 2), ("049", 3), ("051", 4), ("052", 5), ("054", 3), ("066", 3),
        ("072", 3), ("074", 2), ("075", 3), ("077", 2), ("080", 4), ("082", 5), ("083", 5),
        ("084", 3), ("086", 3), ("087", 4), ("089", 4), ("091", 3), ("092", 3), ("094", 4),
        ("096", 3),
    )
)  # fmt: skip


def street_address(rng: random.Random) -> str:
    """A house address: "125 Lê Văn Sỹ", or "125/14 Lê Văn Sỹ" for a house down an alley (hẻm)."""
    number, street = rng.randrange(1, 900), STREETS.pick(rng)
    # About half the city lives down alleys off the numbered street front.
    return f"{number}/{rng.randrange(1, 60)} {street}" if rng.random() < 0.5 else f"{number} {street}"
