"""The NDXP stub knows the 34 provinces of the map since 1 July 2025, and serves the 33 beyond this one."""

from connectors.datasets.admin_units_2025 import PROVINCES_2025
from connectors.datasets.places import PROVINCE_NAME
from sandbox.ngsp.national import PROVINCES


def test_the_stub_serves_every_province_of_the_2025_map_but_this_one() -> None:
    assert len(PROVINCES_2025) == 34
    assert len(PROVINCES) == 33 and PROVINCE_NAME not in {name for _, name in PROVINCES.values()}
    assert {name for _, name in PROVINCES.values()} | {PROVINCE_NAME} == {p.name for p in PROVINCES_2025}
    # The area codes callers already use stay; a merged province answers for every province it took in.
    assert PROVINCES["HNI"] == (("001",), "Thành phố Hà Nội")
    assert PROVINCES["DNG"] == (("048", "049"), "Thành phố Đà Nẵng")
    assert PROVINCES["NBH"] == (("037", "035", "036"), "Tỉnh Ninh Bình")
    owners = [prefix for prefixes, _ in PROVINCES.values() for prefix in prefixes]
    assert len(owners) == len(set(owners)) == 63 - 3  # every old province once, but the 3 that are this city
