"""The 2025 map the simulation runs on: 34 provinces made of the 63 before 1 July 2025, the units of Ho Chi
Minh City since, and a demo fleet of provincial and commune systems only (districts no longer exist)."""

import re

import pytest

from connectors.datasets.admin_units_2025 import FORMER_AREAS, HCM_COMMUNES_2025, PROVINCES_2025
from connectors.datasets.places import COMMUNE_BY_CODE, COMMUNES, MIGRANT_PROVINCES, PROVINCE_NAME
from connectors.mock import AGENCIES, commune_agencies, mock_systems

#: The 63 provinces' codes before 1 July 2025 (General Statistics Office).
OLD_CODES = [
    f"{code:02d}"
    for code in (
        1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40,
        42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82,
        83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
    )
]  # fmt: skip


def test_the_34_provinces_are_the_63_merged_each_once() -> None:
    assert len(OLD_CODES) == 63 and len(PROVINCES_2025) == 34
    merged = [code for province in PROVINCES_2025 for code in province.merged_from]
    assert sorted(merged) == sorted(OLD_CODES)  # every old province in exactly one new one
    assert len({p.code for p in PROVINCES_2025}) == len({p.short for p in PROVINCES_2025}) == 34
    # A merged province kept the code of one of its provinces (listed first).
    assert all(p.merged_from[0] == p.code for p in PROVINCES_2025)
    by_code = {p.code: p for p in PROVINCES_2025}
    assert by_code["79"].name == PROVINCE_NAME == "Thành phố Hồ Chí Minh"
    assert by_code["79"].citizen_prefixes == ("079", "074", "077")  # with Bình Dương, Bà Rịa - Vũng Tàu
    assert (by_code["91"].name, by_code["91"].merged_from) == (
        "Tỉnh An Giang",
        ("91", "89"),
    )  # with Kiên Giang
    assert sum(1 for p in PROVINCES_2025 if len(p.merged_from) == 1) == 11  # 11 provinces not merged
    # Migrants' ids keep the province codes from before: every one is in the map.
    assert set(MIGRANT_PROVINCES.items) <= {prefix for p in PROVINCES_2025 for prefix in p.citizen_prefixes}


def test_the_city_s_units_are_wards_and_communes_with_their_codes() -> None:
    codes = [code for code, _, _ in HCM_COMMUNES_2025]
    assert len(codes) == len(set(codes)) == len(COMMUNES.items) <= 168
    assert all(re.fullmatch(r"[0-9]{5}", code) for code in codes)
    assert {area for *_, area in HCM_COMMUNES_2025} == {code for code, _, _ in FORMER_AREAS}
    for commune in COMMUNES.items:
        assert commune.name.startswith(("Phường ", "Xã "))
        assert commune.full_name == f"{commune.name}, Thành phố Hồ Chí Minh"
        assert commune.authority == f"Ủy ban nhân dân {commune.name}"
    # Spot checks against Resolution 1685/NQ-UBTVQH15, clauses 1, 68 and 123.
    assert COMMUNE_BY_CODE["26740"].name == "Phường Sài Gòn"
    assert COMMUNE_BY_CODE["26824"].name == "Phường Thủ Đức"
    assert COMMUNE_BY_CODE["27553"].name == "Xã Củ Chi"


@pytest.mark.parametrize("count", [2, 11, 20, 60])
def test_the_demo_fleet_has_only_provincial_and_commune_systems(count: int) -> None:
    agencies, systems = mock_systems(count)
    assert len(systems) == count
    assert {agency.level for agency in agencies} <= {"province", "commune"}
    assert {system.level for system in systems} <= {"province", "commune"}
    assert {system.registration()["level"] for system in systems} <= {"province", "commune"}
    communal = [system for system in systems if system.level == "commune"]
    assert len(communal) == max(0, count - 11)
    committees = {agency.code: agency for agency in agencies if agency.level == "commune"}
    for system in communal:  # commune one-stop shops and databases, each run by a commune committee
        assert system.agency in committees
        assert system.name.startswith(("Một cửa UBND phường ", "Một cửa UBND xã ", "CSDL chuyên ngành UBND "))
    assert not any(re.search(r"Quận|Huyện|Thủ Đức", a.name) for a in agencies if a.level == "commune")
    assert not any(a.code.startswith("UBND-H") for a in agencies)


def test_commune_committees_are_named_after_the_city_s_units() -> None:
    committees = commune_agencies(3)
    assert [(a.code, a.name, a.level) for a in committees] == [
        ("UBND-X01", "UBND phường Sài Gòn", "commune"),
        ("UBND-X02", "UBND phường Xuân Hòa", "commune"),
        ("UBND-X03", "UBND phường Chợ Quán", "commune"),
    ]
    assert {a.level for a in AGENCIES} == {"province"}
