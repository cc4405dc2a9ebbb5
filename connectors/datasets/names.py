"""Vietnamese personal names: family name, middle name and given name, drawn with realistic frequencies.

Family-name shares follow the usual national estimates (Nguyễn about 38%, Trần 11%, Lê 9.5%...), with
the southern forms Huỳnh and Võ more common than Hoàng and Vũ, as in Hồ Chí Minh city. Middle names
depend on generation: Văn and Thị dominate before 1990 and give way to Minh, Gia, Bảo, Ngọc... after.
"""

import random
from typing import Literal

from connectors.datasets.sampling import Weighted

Gender = Literal["male", "female"]

FAMILY_NAMES: Weighted[str] = Weighted(
    (
        ("Nguyễn", 38.4), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.0), ("Huỳnh", 3.5), ("Hoàng", 1.6),
        ("Phan", 4.5), ("Võ", 2.7), ("Vũ", 1.2), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3),
        ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Trương", 1.2), ("Đinh", 0.8), ("Lâm", 0.7),
        ("Mai", 0.6), ("Đoàn", 0.6), ("Lương", 0.5), ("Cao", 0.5), ("Tạ", 0.3), ("Châu", 0.4),
        ("Tô", 0.3), ("Thái", 0.3), ("La", 0.2), ("Quách", 0.2), ("Từ", 0.2),
    )
)  # fmt: skip

# Keyed by (gender, born in 1990 or later).
_MIDDLE_NAMES: dict[tuple[Gender, bool], Weighted[str]] = {
    ("male", False): Weighted(
        (
            ("Văn", 55), ("Hữu", 6), ("Minh", 6), ("Thanh", 5), ("Quốc", 4), ("Đức", 4), ("Công", 3),
            ("Tấn", 4), ("Ngọc", 3), ("Xuân", 2), ("Quang", 3), ("Hoàng", 2), ("Thành", 2), ("Trọng", 1),
        )
    ),
    ("male", True): Weighted(
        (
            ("Văn", 18), ("Minh", 12), ("Gia", 9), ("Hoàng", 7), ("Quốc", 7), ("Đức", 6), ("Bảo", 6),
            ("Anh", 5), ("Thành", 4), ("Tuấn", 4), ("Nhật", 4), ("Đăng", 4), ("Trọng", 3), ("Hữu", 4),
            ("Thiên", 3), ("Tấn", 4),
        )
    ),
    ("female", False): Weighted(
        (
            ("Thị", 60), ("Ngọc", 8), ("Thu", 5), ("Thanh", 5), ("Kim", 5), ("Mỹ", 3), ("Bích", 3),
            ("Hồng", 3), ("Thùy", 2), ("Phương", 2), ("Tuyết", 2), ("Minh", 2),
        )
    ),
    ("female", True): Weighted(
        (
            ("Thị", 20), ("Ngọc", 12), ("Bảo", 7), ("Gia", 6), ("Khánh", 6), ("Minh", 6), ("Thảo", 5),
            ("Phương", 5), ("Mai", 4), ("Quỳnh", 4), ("Hoài", 3), ("Thanh", 5), ("Thu", 4), ("Kim", 4),
            ("Ánh", 3), ("Yến", 3),
        )
    ),
}  # fmt: skip

_GIVEN_NAMES: dict[Gender, Weighted[str]] = {
    "male": Weighted(
        (name, weight)
        for names, weight in (
            (("Anh", "Minh", "Huy", "Tuấn", "Hùng", "Dũng", "Nam", "Long", "Phúc", "Khang"), 3.0),
            (("Bảo", "Bình", "Cường", "Đạt", "Đức", "Hải", "Hiếu", "Hoàng", "Hưng", "Khoa", "Kiên",
              "Lộc", "Nghĩa", "Nhân", "Phát", "Phong", "Quang", "Quân", "Sơn", "Tài", "Tâm", "Thắng",
              "Thành", "Thịnh", "Toàn", "Trí", "Trung", "Tùng", "Việt", "Vinh", "Vũ", "Khôi", "Kiệt",
              "Lâm", "An", "Duy", "Hậu", "Hòa", "Tín", "Thiện"), 1.0),
        )
        for name in names
    ),
    "female": Weighted(
        (name, weight)
        for names, weight in (
            (("Anh", "Linh", "Hương", "Trang", "Ngọc", "Thảo", "Hà", "Lan", "Nhi", "Vy"), 3.0),
            (("Ánh", "Bích", "Châu", "Chi", "Diễm", "Dung", "Duyên", "Giang", "Hạnh", "Hằng", "Hiền",
              "Hoa", "Hồng", "Huệ", "Huyền", "Khánh", "Liên", "Loan", "Ly", "Mai", "My", "Nga", "Ngân",
              "Nhung", "Oanh", "Phương", "Quỳnh", "Tâm", "Thanh", "Thư", "Thủy", "Trâm", "Trinh",
              "Tuyết", "Uyên", "Vân", "Xuân", "Yến", "Hân", "Tiên"), 1.0),
        )
        for name in names
    ),
}  # fmt: skip


def full_name(rng: random.Random, gender: Gender, birth_year: int, family: str) -> str:
    """A full name "Family Middle Given" for someone of this gender born in `birth_year`."""
    middles = _MIDDLE_NAMES[gender, birth_year >= 1990]
    middle, given = middles.pick(rng), _GIVEN_NAMES[gender].pick(rng)
    while given == middle:  # "Minh Minh" is not a name parents choose
        given = _GIVEN_NAMES[gender].pick(rng)
    return f"{family} {middle} {given}"


def given_name(name: str) -> str:
    """The given name: the last word, the one Vietnamese people are called and listed by."""
    return name.rsplit(" ", 1)[-1]
