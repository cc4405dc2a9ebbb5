"""Administrative units of the simulated province (Hồ Chí Minh city, before the 2025 reorganisation).

Province -> district -> commune (phường, xã, thị trấn), with codes in the General Statistics Office
format: 2-digit province, 3-digit district, 5-digit commune. The District 1 ward codes are the real
ones; the others are a plausible subset laid out the same way (consecutive codes three apart), enough
to give addresses, registering offices and district hospitals a realistic shape.
"""

import random
from dataclasses import dataclass

from connectors.datasets.sampling import Weighted

PROVINCE_CODE = "79"
PROVINCE_NAME = "Thành phố Hồ Chí Minh"
# Citizen ids carry the 3-digit code of the province where the birth was registered.
CITIZEN_PROVINCE_CODE = "0" + PROVINCE_CODE


@dataclass(frozen=True, slots=True)
class District:
    """A district (quận, huyện) or district-level city of the province."""

    code: str
    name: str

    @property
    def hospital(self) -> tuple[str, str]:
        """Code and name of the district hospital, where most health-insurance cards are registered."""
        # "Bệnh viện Quận 1" but "Bệnh viện huyện Củ Chi": only "Quận" keeps its capital inside a name.
        name = self.name if self.name.startswith("Quận") else self.name[0].lower() + self.name[1:]
        return PROVINCE_CODE + self.code, f"Bệnh viện {name}"


@dataclass(frozen=True, slots=True)
class Commune:
    """A commune-level unit: the registering office of civil status and the unit of residence."""

    code: str
    name: str
    district: District
    full_name: str  # "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh", precomputed for addresses

    @property
    def rural(self) -> bool:
        """Whether this is a rural commune (xã), where land is farmland and parcels are larger."""
        return self.name.startswith("Xã")

    @property
    def authority(self) -> str:
        """The people's committee that registers births, marriages and confirmations here."""
        return f"Ủy ban nhân dân {self.name}, {self.district.name}"


# (district code, name, population in thousands (2019 census, rounded), first commune code, communes)
_UNITS: tuple[tuple[str, str, int, int, tuple[str, ...]], ...] = (
    ("760", "Quận 1", 142, 26734, (
        "Phường Tân Định", "Phường Đa Kao", "Phường Bến Nghé", "Phường Bến Thành",
        "Phường Nguyễn Thái Bình", "Phường Phạm Ngũ Lão", "Phường Cầu Ông Lãnh", "Phường Cô Giang",
        "Phường Nguyễn Cư Trinh", "Phường Cầu Kho",
    )),
    ("761", "Quận 12", 620, 26764, (
        "Phường Thạnh Xuân", "Phường Thạnh Lộc", "Phường Hiệp Thành", "Phường Thới An",
        "Phường Tân Chánh Hiệp", "Phường An Phú Đông", "Phường Tân Thới Hiệp", "Phường Trung Mỹ Tây",
        "Phường Tân Hưng Thuận", "Phường Đông Hưng Thuận", "Phường Tân Thới Nhất",
    )),
    ("764", "Quận Gò Vấp", 676, 26899, (
        "Phường 15", "Phường 13", "Phường 17", "Phường 6", "Phường 16", "Phường 12", "Phường 14",
        "Phường 10", "Phường 5", "Phường 1", "Phường 8", "Phường 11", "Phường 3",
    )),
    ("765", "Quận Bình Thạnh", 499, 26938, (
        "Phường 13", "Phường 11", "Phường 27", "Phường 26", "Phường 12", "Phường 25", "Phường 5",
        "Phường 7", "Phường 24", "Phường 6", "Phường 14", "Phường 15", "Phường 2", "Phường 1",
        "Phường 17", "Phường 22", "Phường 19", "Phường 28",
    )),
    ("766", "Quận Tân Bình", 474, 26992, (
        "Phường 2", "Phường 4", "Phường 12", "Phường 13", "Phường 1", "Phường 3", "Phường 11",
        "Phường 7", "Phường 5", "Phường 10", "Phường 6", "Phường 8", "Phường 9", "Phường 14",
        "Phường 15",
    )),
    ("767", "Quận Tân Phú", 485, 27037, (
        "Phường Tân Sơn Nhì", "Phường Tây Thạnh", "Phường Sơn Kỳ", "Phường Tân Quý",
        "Phường Tân Thành", "Phường Phú Thọ Hòa", "Phường Phú Thạnh", "Phường Phú Trung",
        "Phường Hòa Thạnh", "Phường Hiệp Tân", "Phường Tân Thới Hòa",
    )),
    ("768", "Quận Phú Nhuận", 163, 27070, (
        "Phường 4", "Phường 5", "Phường 9", "Phường 7", "Phường 15", "Phường 1", "Phường 8",
        "Phường 2", "Phường 10", "Phường 11", "Phường 13",
    )),
    ("769", "Thành phố Thủ Đức", 1013, 26797, (
        "Phường Linh Xuân", "Phường Bình Chiểu", "Phường Linh Trung", "Phường Tam Bình",
        "Phường Tam Phú", "Phường Hiệp Bình Phước", "Phường Hiệp Bình Chánh", "Phường Linh Chiểu",
        "Phường Linh Tây", "Phường Linh Đông", "Phường Bình Thọ", "Phường Trường Thọ",
        "Phường Long Bình", "Phường Long Thạnh Mỹ", "Phường Tân Phú", "Phường Hiệp Phú",
        "Phường Tăng Nhơn Phú A", "Phường Tăng Nhơn Phú B", "Phường Phước Long B",
        "Phường Phước Long A", "Phường Trường Thạnh", "Phường Long Phước", "Phường Long Trường",
        "Phường Phước Bình", "Phường Phú Hữu", "Phường Thảo Điền", "Phường An Phú",
        "Phường An Khánh", "Phường Bình Trưng Đông", "Phường Bình Trưng Tây", "Phường Cát Lái",
        "Phường Thạnh Mỹ Lợi", "Phường An Lợi Đông", "Phường Thủ Thiêm",
    )),
    ("770", "Quận 3", 190, 27127, (
        "Phường Võ Thị Sáu", "Phường 9", "Phường 4", "Phường 5", "Phường 3", "Phường 2",
        "Phường 1", "Phường 10", "Phường 11", "Phường 12", "Phường 13", "Phường 14",
    )),
    ("771", "Quận 10", 234, 27163, (
        "Phường 15", "Phường 13", "Phường 14", "Phường 12", "Phường 11", "Phường 10", "Phường 9",
        "Phường 1", "Phường 8", "Phường 2", "Phường 4", "Phường 7", "Phường 5", "Phường 6",
    )),
    ("772", "Quận 11", 209, 27208, (
        "Phường 15", "Phường 5", "Phường 14", "Phường 11", "Phường 3", "Phường 10", "Phường 13",
        "Phường 8", "Phường 9", "Phường 12", "Phường 7", "Phường 6", "Phường 4", "Phường 1",
        "Phường 2", "Phường 16",
    )),
    ("774", "Quận 5", 159, 27301, (
        "Phường 4", "Phường 9", "Phường 3", "Phường 12", "Phường 2", "Phường 8", "Phường 7",
        "Phường 1", "Phường 11", "Phường 14", "Phường 5", "Phường 6", "Phường 10", "Phường 13",
    )),
    ("775", "Quận 6", 233, 27343, (
        "Phường 14", "Phường 13", "Phường 9", "Phường 6", "Phường 12", "Phường 5", "Phường 11",
        "Phường 2", "Phường 1", "Phường 4", "Phường 8", "Phường 3", "Phường 7", "Phường 10",
    )),
    ("776", "Quận 8", 424, 27385, (
        "Phường 8", "Phường 2", "Phường 1", "Phường 3", "Phường 11", "Phường 9", "Phường 10",
        "Phường 4", "Phường 13", "Phường 12", "Phường 5", "Phường 14", "Phường 6", "Phường 15",
        "Phường 16", "Phường 7",
    )),
    ("777", "Quận Bình Tân", 785, 27433, (
        "Phường Bình Hưng Hòa", "Phường Bình Hưng Hoà A", "Phường Bình Hưng Hoà B",
        "Phường Bình Trị Đông", "Phường Bình Trị Đông A", "Phường Bình Trị Đông B",
        "Phường Tân Tạo", "Phường Tân Tạo A", "Phường An Lạc", "Phường An Lạc A",
    )),
    ("778", "Quận 7", 360, 27475, (
        "Phường Tân Thuận Đông", "Phường Tân Thuận Tây", "Phường Tân Kiểng", "Phường Tân Hưng",
        "Phường Bình Thuận", "Phường Tân Quy", "Phường Phú Thuận", "Phường Tân Phú",
        "Phường Tân Phong", "Phường Phú Mỹ",
    )),
    ("783", "Huyện Củ Chi", 462, 27505, (
        "Thị trấn Củ Chi", "Xã Phú Mỹ Hưng", "Xã An Phú", "Xã Trung Lập Thượng", "Xã An Nhơn Tây",
        "Xã Nhuận Đức", "Xã Phạm Văn Cội", "Xã Phú Hòa Đông", "Xã Trung Lập Hạ", "Xã Trung An",
        "Xã Phước Thạnh", "Xã Phước Hiệp", "Xã Tân An Hội", "Xã Phước Vĩnh An", "Xã Thái Mỹ",
        "Xã Tân Thạnh Tây", "Xã Hòa Phú", "Xã Tân Thạnh Đông", "Xã Bình Mỹ", "Xã Tân Phú Trung",
        "Xã Tân Thông Hội",
    )),
    ("784", "Huyện Hóc Môn", 542, 27568, (
        "Thị trấn Hóc Môn", "Xã Tân Hiệp", "Xã Nhị Bình", "Xã Đông Thạnh", "Xã Tân Thới Nhì",
        "Xã Thới Tam Thôn", "Xã Xuân Thới Sơn", "Xã Tân Xuân", "Xã Xuân Thới Đông", "Xã Trung Chánh",
        "Xã Xuân Thới Thượng", "Xã Bà Điểm",
    )),
    ("785", "Huyện Bình Chánh", 705, 27604, (
        "Thị trấn Tân Túc", "Xã Phạm Văn Hai", "Xã Vĩnh Lộc A", "Xã Vĩnh Lộc B", "Xã Bình Lợi",
        "Xã Lê Minh Xuân", "Xã Tân Nhựt", "Xã Tân Kiên", "Xã Bình Hưng", "Xã Phong Phú",
        "Xã An Phú Tây", "Xã Hưng Long", "Xã Đa Phước", "Xã Tân Quý Tây", "Xã Bình Chánh",
        "Xã Quy Đức",
    )),
    ("786", "Huyện Nhà Bè", 206, 27652, (
        "Thị trấn Nhà Bè", "Xã Phước Kiển", "Xã Phước Lộc", "Xã Nhơn Đức", "Xã Phú Xuân",
        "Xã Long Thới", "Xã Hiệp Phước",
    )),
    ("787", "Huyện Cần Giờ", 71, 27673, (
        "Thị trấn Cần Thạnh", "Xã Bình Khánh", "Xã Tam Thôn Hiệp", "Xã An Thới Đông", "Xã Thạnh An",
        "Xã Long Hòa", "Xã Lý Nhơn",
    )),
)  # fmt: skip


def _communes() -> tuple[tuple[Commune, float], ...]:
    communes: list[tuple[Commune, float]] = []
    for district_code, district_name, population, first_code, names in _UNITS:
        district = District(district_code, district_name)
        for index, name in enumerate(names):
            full_name = f"{name}, {district_name}, {PROVINCE_NAME}"
            commune = Commune(f"{first_code + 3 * index:05d}", name, district, full_name)
            communes.append((commune, population / len(names)))
    return tuple(communes)


# Weighted by district population, so Bình Tân and Thủ Đức hold far more people than District 1.
COMMUNES: Weighted[Commune] = Weighted(_communes())
COMMUNE_BY_CODE: dict[str, Commune] = {commune.code: commune for commune in COMMUNES.items}
# Farmland and second homes sit mostly in the outer districts.
RURAL_COMMUNES: Weighted[Commune] = Weighted(
    (commune, 1.0) for commune in COMMUNES.items if commune.rural or commune.district.code == "769"
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
# coast and the north-central provinces, as in the city's migration statistics.
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
