"""Business registration (đăng ký kinh doanh): enterprises and household businesses with their owners."""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from connectors.datasets.names import given_name
from connectors.datasets.places import COMMUNES, street_address
from connectors.datasets.population import Household, Person
from connectors.datasets.sampling import SerialPool, Weighted, add_years, age_on, random_date
from connectors.datasets.sqlite import Batch, Row, SqliteStore, Table

BUSINESSES = Table(
    "businesses",
    (
        ("tax_code", "TEXT NOT NULL"),
        ("name", "TEXT NOT NULL"),
        ("kind", "TEXT NOT NULL"),  # enterprise | household
        ("legal_form", "TEXT NOT NULL"),
        ("owner_id", "TEXT NOT NULL"),
        ("owner_name", "TEXT NOT NULL"),
        ("business_line_code", "TEXT NOT NULL"),
        ("business_line", "TEXT NOT NULL"),
        ("capital_vnd", "INTEGER NOT NULL"),
        ("address", "TEXT NOT NULL"),
        ("commune_code", "TEXT NOT NULL"),
        ("registration_date", "TEXT NOT NULL"),
        ("status", "TEXT NOT NULL"),  # active | suspended | dissolved
    ),
    unique=("tax_code",),
    indexed=("owner_id",),
)

# Enterprises get tax codes of the city's tax department ("03..."), household businesses the owner's
# personal tax code ("8...").
_ENTERPRISE_PREFIX, _HOUSEHOLD_PREFIX = "03", "8"
_TAX_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
_ENTERPRISE_SHARE = 0.3


def tax_code(body: str) -> str | None:
    """The 10-digit tax code (mã số thuế) for a 9-digit body, or None if the body has no check digit.

    The check digit is 10 - (weighted sum mod 11); bodies whose sum is 0 mod 11 are never issued.
    """
    check = 10 - sum(weight * int(digit) for weight, digit in zip(_TAX_WEIGHTS, body, strict=True)) % 11
    return body + str(check) if check < 10 else None


@dataclass(frozen=True, slots=True)
class _Line:
    code: str  # VSIC 2018 level-4 code
    name: str
    sector: str  # as it appears in an enterprise's name
    shop: str  # as it appears in a household business's name


_LINES: Weighted[_Line] = Weighted(
    (
        (_Line("4711", "Bán lẻ lương thực, thực phẩm, đồ uống trong cửa hàng kinh doanh tổng hợp",
               "Thương mại Dịch vụ", "Tạp hóa"), 20),
        (_Line("5610", "Nhà hàng và các dịch vụ ăn uống phục vụ lưu động", "Dịch vụ Ăn uống", "Quán ăn"), 15),
        (_Line("5630", "Dịch vụ phục vụ đồ uống", "Dịch vụ Ăn uống", "Quán cà phê"), 12),
        (_Line("9631", "Cắt tóc, làm đầu, gội đầu", "Dịch vụ Làm đẹp", "Tiệm tóc"), 6),
        (_Line("4520", "Bảo dưỡng, sửa chữa ô tô và xe có động cơ khác", "Kỹ thuật Ô tô", "Sửa xe"), 6),
        (_Line("4771", "Bán lẻ hàng may mặc, giày dép, hàng da và giả da trong các cửa hàng chuyên doanh",
               "Thời trang", "Shop thời trang"), 8),
        (_Line("4772",
               "Bán lẻ thuốc, dụng cụ y tế, mỹ phẩm và vật phẩm vệ sinh trong các cửa hàng chuyên doanh",
               "Dược phẩm", "Nhà thuốc"), 5),
        (_Line("4100", "Xây dựng nhà các loại", "Xây dựng", "Thầu xây dựng"), 5),
        (_Line("4663", "Bán buôn vật liệu, thiết bị lắp đặt khác trong xây dựng", "Vật liệu Xây dựng",
               "Vật liệu xây dựng"), 5),
        (_Line("6201", "Lập trình máy vi tính", "Công nghệ Phần mềm", "Dịch vụ tin học"), 4),
        (_Line("4933", "Vận tải hàng hóa bằng đường bộ", "Vận tải", "Vận tải"), 5),
        (_Line("1410", "May trang phục (trừ trang phục từ da lông thú)", "May mặc", "Xưởng may"), 4),
        (_Line("5510", "Dịch vụ lưu trú ngắn ngày", "Du lịch Khách sạn", "Nhà nghỉ"), 3),
        (_Line("8559", "Giáo dục khác chưa được phân vào đâu", "Giáo dục Đào tạo", "Lớp học"), 2),
    )
)  # fmt: skip
# (legal form, how it opens the name)
_LEGAL_FORMS: Weighted[tuple[str, str]] = Weighted(
    (
        (("Công ty TNHH một thành viên", "Công ty TNHH"), 45),
        (("Công ty TNHH hai thành viên trở lên", "Công ty TNHH"), 20),
        (("Công ty cổ phần", "Công ty Cổ phần"), 25),
        (("Doanh nghiệp tư nhân", "Doanh nghiệp tư nhân"), 10),
    )
)
# Brand names are two auspicious syllables: "An Phát", "Minh Long", "Phước Thịnh"...
_BRAND_FIRST: Weighted[str] = Weighted(
    (word, 1.0)
    for word in ("An", "Minh", "Thành", "Phú", "Hưng", "Tân", "Đại", "Hoàng", "Kim", "Phước", "Vạn", "Nam",
                 "Thiên", "Việt", "Trường", "Gia", "Đông", "Bảo", "Tín", "Nhật", "Sài Gòn")
)  # fmt: skip
_BRAND_SECOND: Weighted[str] = Weighted(
    (word, 1.0)
    for word in ("Phát", "Long", "Thịnh", "Quý", "Tiến", "Việt", "Gia", "Ngân", "Lộc", "Phúc", "Á", "Hải",
                 "Sơn", "Nguyên", "Khang", "Hưng", "Thành", "Đạt", "Tín", "Minh", "Xanh")
)  # fmt: skip
_STATUSES: Weighted[str] = Weighted((("active", 82), ("suspended", 6), ("dissolved", 12)))


class BusinessGenerator:
    """Derives enterprises and household businesses owned by adults of the population."""

    def __init__(self, rng: random.Random, as_of: date, *, owner_share: float) -> None:
        self._rng = rng
        self._as_of = as_of
        self._owner_share = owner_share
        self._serials = SerialPool(rng, 10**7)

    def rows(self, households: Sequence[Household]) -> Batch:
        """Business rows for the adults of these households who run one."""
        rows = [
            self._business(household, person)
            for household in households
            for person in household.members
            if age_on(person.birth_date, self._as_of) >= 20 and self._rng.random() < self._owner_share
        ]
        return {BUSINESSES: rows}

    def _business(self, household: Household, owner: Person) -> Row:
        rng = self._rng
        line = _LINES.pick(rng)
        registered = random_date(rng, max(add_years(owner.birth_date, 20), date(2000, 1, 1)), self._as_of)
        if rng.random() < _ENTERPRISE_SHARE:
            kind, prefix = "enterprise", _ENTERPRISE_PREFIX
            legal_form, opening = _LEGAL_FORMS.pick(rng)
            name = f"{opening} {line.sector} {_BRAND_FIRST.pick(rng)} {_BRAND_SECOND.pick(rng)}"
            capital = max(round(rng.lognormvariate(math.log(2e9), 1.2), -8), 100_000_000)
            commune, street = COMMUNES.pick(rng), street_address(rng)  # offices rarely sit at home
        else:
            kind, prefix, legal_form = "household", _HOUSEHOLD_PREFIX, "Hộ kinh doanh"
            name = f"Hộ kinh doanh {line.shop} {given_name(owner.full_name)}"
            capital = rng.randrange(1, 51) * 10_000_000
            commune, street = household.commune, household.street
            if rng.random() < 0.2:  # most household businesses trade from the home
                commune, street = COMMUNES.pick(rng), street_address(rng)
        return (
            self._tax_code(prefix),
            name,
            kind,
            legal_form,
            owner.citizen_id,
            owner.full_name,
            line.code,
            line.name,
            int(capital),
            f"{street}, {commune.full_name}",
            commune.code,
            registered.isoformat(),
            _STATUSES.pick(rng),
        )

    def _tax_code(self, prefix: str) -> str:
        width = 9 - len(prefix)
        while True:
            serial = self._serials.next(prefix)
            # Serial zero is reserved, and a body without a check digit is skipped like the tax office does.
            code = tax_code(f"{prefix}{serial:0{width}d}") if serial else None
            if code:
                return code


class BusinessStore(SqliteStore):
    """The business-registration database (CSDL đăng ký doanh nghiệp, hộ kinh doanh)."""

    DATASET = "business"
    TABLES = (BUSINESSES,)

    async def business(self, tax_code: str) -> dict[str, Any] | None:
        """One enterprise or household business by tax code, or None."""
        return await self._one(BUSINESSES, "tax_code = ?", tax_code)

    async def businesses_of(self, owner_id: str) -> list[dict[str, Any]]:
        """Businesses owned by this citizen, oldest registration first."""
        return await self._all(BUSINESSES, "owner_id = ? ORDER BY registration_date", owner_id)

    async def sample_tax_codes(self, n: int, seed: int) -> list[str]:
        """`n` distinct tax codes that exist, the same ones for the same seed."""
        return await self._sample(BUSINESSES, "tax_code", n, seed)
