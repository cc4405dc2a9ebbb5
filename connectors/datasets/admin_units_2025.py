"""Vietnam's administrative units since 1 July 2025, when local government became two levels (province and
commune) and the 63 provinces were merged into 34: the table the simulation's places and the NDXP stub's
provinces come from.

Sources (the names and codes below were checked against them):

- Provinces: Resolution 202/2025/QH15 of the National Assembly (12 June 2025) on the arrangement of
  provincial-level administrative units, in force on 1 July 2025. Codes are the General Statistics
  Office's list of administrative units as of 1 July 2025: a merged province kept the code of one of the
  provinces it was made of (the one listed first in `merged_from`); the others' codes are retired, but
  citizen ids issued before keep them (their first three digits are the province where the birth was
  registered, "0" + the old code).
- Communes of Ho Chi Minh City: Resolution 1685/NQ-UBTVQH15 of the Standing Committee of the National
  Assembly (16 June 2025) on the arrangement of the commune-level units of Ho Chi Minh City in 2025, the
  city merged with Bình Dương and Bà Rịa - Vũng Tàu: 168 units (wards, communes and the special zone of
  Côn Đảo). The sample below is the units of the former city (clauses 1-78 and 113-135 of the
  resolution, less Thạnh An) and a few of the former Bình Dương and Bà Rịa - Vũng Tàu, with the codes the
  General Statistics Office gave them (each new unit kept the code of one unit it was made of). A copy
  of the resolutions and codes, with the clause of each unit, is in the public dataset
  github.com/bamboo-filing-cabinet/vietnam-admin-units (data/ward-2025-composition.json).

`short` is the simulation's own three-letter code of a province (its address prefix on the NDXP stub,
`HNI/HO-TICH`); it is not an official code.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Province:
    """A province or centrally-run city after 1 July 2025."""

    code: str
    name: str
    short: str
    merged_from: tuple[str, ...]  # codes of the provinces before 1 July 2025, its own code first

    @property
    def citizen_prefixes(self) -> tuple[str, ...]:
        """The first three digits of the citizen ids of people whose birth was registered here."""
        return tuple("0" + code for code in self.merged_from)


PROVINCES_2025: tuple[Province, ...] = (
    Province("01", "Thành phố Hà Nội", "HNI", ("01",)),
    Province("04", "Tỉnh Cao Bằng", "CBG", ("04",)),
    Province("08", "Tỉnh Tuyên Quang", "TQG", ("08", "02")),
    Province("11", "Tỉnh Điện Biên", "DBN", ("11",)),
    Province("12", "Tỉnh Lai Châu", "LCU", ("12",)),
    Province("14", "Tỉnh Sơn La", "SLA", ("14",)),
    Province("15", "Tỉnh Lào Cai", "LCI", ("15", "10")),
    Province("19", "Tỉnh Thái Nguyên", "TNN", ("19", "06")),
    Province("20", "Tỉnh Lạng Sơn", "LSN", ("20",)),
    Province("22", "Tỉnh Quảng Ninh", "QNH", ("22",)),
    Province("24", "Tỉnh Bắc Ninh", "BNH", ("24", "27")),
    Province("25", "Tỉnh Phú Thọ", "PTO", ("25", "26", "17")),
    Province("31", "Thành phố Hải Phòng", "HPG", ("31", "30")),
    Province("33", "Tỉnh Hưng Yên", "HYN", ("33", "34")),
    Province("37", "Tỉnh Ninh Bình", "NBH", ("37", "35", "36")),
    Province("38", "Tỉnh Thanh Hóa", "THA", ("38",)),
    Province("40", "Tỉnh Nghệ An", "NAN", ("40",)),
    Province("42", "Tỉnh Hà Tĩnh", "HTH", ("42",)),
    Province("44", "Tỉnh Quảng Trị", "QTI", ("44", "45")),
    Province("46", "Thành phố Huế", "HUE", ("46",)),
    Province("48", "Thành phố Đà Nẵng", "DNG", ("48", "49")),
    Province("51", "Tỉnh Quảng Ngãi", "QNI", ("51", "62")),
    Province("52", "Tỉnh Gia Lai", "GLI", ("52", "64")),
    Province("56", "Tỉnh Khánh Hòa", "KHA", ("56", "58")),
    Province("66", "Tỉnh Đắk Lắk", "DLK", ("66", "54")),
    Province("68", "Tỉnh Lâm Đồng", "LDG", ("68", "67", "60")),
    Province("75", "Tỉnh Đồng Nai", "DNI", ("75", "70")),
    Province("79", "Thành phố Hồ Chí Minh", "HCM", ("79", "74", "77")),
    Province("80", "Tỉnh Tây Ninh", "TNH", ("80", "72")),
    Province("82", "Tỉnh Đồng Tháp", "DTP", ("82", "87")),
    Province("86", "Tỉnh Vĩnh Long", "VLG", ("86", "83", "84")),
    Province("91", "Tỉnh An Giang", "AGG", ("91", "89")),
    Province("92", "Thành phố Cần Thơ", "CTO", ("92", "93", "94")),
    Province("96", "Tỉnh Cà Mau", "CMU", ("96", "95")),
)

#: Where each sample unit lies in the map before 1 July 2025 (code, name, population in thousands): the
#: district of the former city (2019 census, rounded), or the former province for those beyond it
#: (2019 census). Used to weight where people live and to keep the hospitals they were registered at.
FORMER_AREAS: tuple[tuple[str, str, int], ...] = (
    ("760", "Quận 1", 142), ("761", "Quận 12", 620), ("764", "Quận Gò Vấp", 676),
    ("765", "Quận Bình Thạnh", 499), ("766", "Quận Tân Bình", 474), ("767", "Quận Tân Phú", 485),
    ("768", "Quận Phú Nhuận", 163), ("769", "Thành phố Thủ Đức", 1013), ("770", "Quận 3", 190),
    ("771", "Quận 10", 234), ("772", "Quận 11", 209), ("773", "Quận 4", 175), ("774", "Quận 5", 159),
    ("775", "Quận 6", 233), ("776", "Quận 8", 424), ("777", "Quận Bình Tân", 785),
    ("778", "Quận 7", 360), ("783", "Huyện Củ Chi", 462), ("784", "Huyện Hóc Môn", 542),
    ("785", "Huyện Bình Chánh", 705), ("786", "Huyện Nhà Bè", 206), ("787", "Huyện Cần Giờ", 71),
    ("74", "Tỉnh Bình Dương", 2426), ("77", "Tỉnh Bà Rịa - Vũng Tàu", 1148),
)  # fmt: skip

#: Sample of the units of Ho Chi Minh City since 1 July 2025: (code, name, former area code).
HCM_COMMUNES_2025: tuple[tuple[str, str, str], ...] = (
    ("26740", "Phường Sài Gòn", "760"), ("26737", "Phường Tân Định", "760"),
    ("26743", "Phường Bến Thành", "760"), ("26758", "Phường Cầu Ông Lãnh", "760"),
    ("27154", "Phường Bàn Cờ", "770"), ("27139", "Phường Xuân Hòa", "770"),
    ("27142", "Phường Nhiêu Lộc", "770"), ("27259", "Phường Xóm Chiếu", "773"),
    ("27265", "Phường Khánh Hội", "773"), ("27286", "Phường Vĩnh Hội", "773"),
    ("27301", "Phường Chợ Quán", "774"), ("27316", "Phường An Đông", "774"),
    ("27343", "Phường Chợ Lớn", "774"), ("27367", "Phường Bình Tây", "775"),
    ("27373", "Phường Bình Tiên", "775"), ("27364", "Phường Bình Phú", "775"),
    ("27349", "Phường Phú Lâm", "775"), ("27478", "Phường Tân Thuận", "778"),
    ("27484", "Phường Phú Thuận", "778"), ("27487", "Phường Tân Mỹ", "778"),
    ("27475", "Phường Tân Hưng", "778"), ("27418", "Phường Chánh Hưng", "776"),
    ("27427", "Phường Phú Định", "776"), ("27424", "Phường Bình Đông", "776"),
    ("27169", "Phường Diên Hồng", "771"), ("27190", "Phường Vườn Lài", "771"),
    ("27163", "Phường Hòa Hưng", "771"), ("27238", "Phường Minh Phụng", "772"),
    ("27232", "Phường Bình Thới", "772"), ("27211", "Phường Hòa Bình", "772"),
    ("27226", "Phường Phú Thọ", "772"), ("26791", "Phường Đông Hưng Thuận", "761"),
    ("26785", "Phường Trung Mỹ Tây", "761"), ("26782", "Phường Tân Thới Hiệp", "761"),
    ("26773", "Phường Thới An", "761"), ("26767", "Phường An Phú Đông", "761"),
    ("27460", "Phường An Lạc", "777"), ("27442", "Phường Bình Tân", "777"),
    ("27457", "Phường Tân Tạo", "777"), ("27448", "Phường Bình Trị Đông", "777"),
    ("27439", "Phường Bình Hưng Hòa", "777"), ("26944", "Phường Gia Định", "765"),
    ("26929", "Phường Bình Thạnh", "765"), ("26905", "Phường Bình Lợi Trung", "765"),
    ("26956", "Phường Thạnh Mỹ Tây", "765"), ("26911", "Phường Bình Quới", "765"),
    ("26890", "Phường Hạnh Thông", "764"), ("26876", "Phường An Nhơn", "764"),
    ("26884", "Phường Gò Vấp", "764"), ("26878", "Phường An Hội Đông", "764"),
    ("26898", "Phường Thông Tây Hội", "764"), ("26882", "Phường An Hội Tây", "764"),
    ("27043", "Phường Đức Nhuận", "768"), ("27058", "Phường Cầu Kiệu", "768"),
    ("27073", "Phường Phú Nhuận", "768"), ("26977", "Phường Tân Sơn Hòa", "766"),
    ("26968", "Phường Tân Sơn Nhất", "766"), ("26995", "Phường Tân Hòa", "766"),
    ("26983", "Phường Bảy Hiền", "766"), ("27004", "Phường Tân Bình", "766"),
    ("27007", "Phường Tân Sơn", "766"), ("27013", "Phường Tây Thạnh", "767"),
    ("27019", "Phường Tân Sơn Nhì", "767"), ("27022", "Phường Phú Thọ Hòa", "767"),
    ("27031", "Phường Tân Phú", "767"), ("27028", "Phường Phú Thạnh", "767"),
    ("26809", "Phường Hiệp Bình", "769"), ("26824", "Phường Thủ Đức", "769"),
    ("26803", "Phường Tam Bình", "769"), ("26800", "Phường Linh Xuân", "769"),
    ("26842", "Phường Tăng Nhơn Phú", "769"), ("26833", "Phường Long Bình", "769"),
    ("26857", "Phường Long Phước", "769"), ("26860", "Phường Long Trường", "769"),
    ("27112", "Phường Cát Lái", "769"), ("27097", "Phường Bình Trưng", "769"),
    ("26848", "Phường Phước Long", "769"), ("27094", "Phường An Khánh", "769"),
    ("27601", "Xã Vĩnh Lộc", "785"), ("27604", "Xã Tân Vĩnh Lộc", "785"),
    ("27610", "Xã Bình Lợi", "785"), ("27595", "Xã Tân Nhựt", "785"),
    ("27637", "Xã Bình Chánh", "785"), ("27628", "Xã Hưng Long", "785"),
    ("27619", "Xã Bình Hưng", "785"), ("27667", "Xã Bình Khánh", "787"),
    ("27673", "Xã An Thới Đông", "787"), ("27664", "Xã Cần Giờ", "787"),
    ("27553", "Xã Củ Chi", "783"), ("27496", "Xã Tân An Hội", "783"),
    ("27526", "Xã Thái Mỹ", "783"), ("27508", "Xã An Nhơn Tây", "783"),
    ("27511", "Xã Nhuận Đức", "783"), ("27541", "Xã Phú Hòa Đông", "783"),
    ("27544", "Xã Bình Mỹ", "783"), ("27568", "Xã Đông Thạnh", "784"),
    ("27559", "Xã Hóc Môn", "784"), ("27577", "Xã Xuân Thới Sơn", "784"),
    ("27592", "Xã Bà Điểm", "784"), ("27655", "Xã Nhà Bè", "786"),
    ("27658", "Xã Hiệp Phước", "786"), ("25951", "Phường Đông Hòa", "74"),
    ("25942", "Phường Dĩ An", "74"), ("25909", "Xã Thường Tân", "74"),
    ("25906", "Xã Bắc Tân Uyên", "74"), ("25858", "Xã Phú Giáo", "74"),
    ("25882", "Xã Phước Hòa", "74"), ("26572", "Phường Tam Long", "77"),
    ("26710", "Phường Tân Hải", "77"), ("26713", "Phường Tân Phước", "77"),
    ("26704", "Phường Phú Mỹ", "77"), ("26725", "Phường Tân Thành", "77"),
)  # fmt: skip
