"""Why a system asks for a person's data: the catalogue of purpose codes (docs/citizens/data-tracker.md).

A request about a subject (a citizen id or tax code) names its purpose with one of these codes; the hub
refuses it without one, keeps the code in the exchange's record, and shows it to the person the data is
about. Most purposes are the administrative procedures of the once-only catalogue (`schemas/catalogue.yaml`:
every procedure there is a purpose here), the procedure the asking office is handling; the others are the
few reasons to ask outside a dossier.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

#: A purpose code as it travels: lowercase kebab case, like the catalogue's codes.
PURPOSE_PATTERN = r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"
PURPOSE_MAX_LENGTH = 64
PurposeCode = Annotated[str, StringConstraints(pattern=PURPOSE_PATTERN, max_length=PURPOSE_MAX_LENGTH)]


class Purpose(BaseModel):
    """One purpose: its code and what it means, in Vietnamese and in English."""

    model_config = ConfigDict(frozen=True)

    code: PurposeCode
    label_vi: str
    label_en: str


def _purposes(*rows: tuple[str, str, str]) -> dict[str, Purpose]:
    return {code: Purpose(code=code, label_vi=vi, label_en=en) for code, vi, en in rows}


#: Every purpose the hub accepts, by code.
PURPOSES: dict[str, Purpose] = _purposes(
    # The procedures of the once-only catalogue, with their names in schemas/catalogue.yaml.
    ("birth-registration", "Đăng ký khai sinh", "Birth registration"),
    ("permanent-residence-registration", "Đăng ký thường trú", "Permanent residence registration"),
    (
        "child-health-insurance-card",
        "Cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi",
        "Health-insurance card for a child under 6",
    ),
    (
        "health-insurance-card-renewal",
        "Gia hạn thẻ bảo hiểm y tế theo hộ gia đình",
        "Household health-insurance card renewal",
    ),
    (
        "health-insurance-reimbursement",
        "Thanh toán trực tiếp chi phí khám bệnh, chữa bệnh bảo hiểm y tế",
        "Direct reimbursement of health-insurance medical costs",
    ),
    (
        "marital-status-confirmation-issuance",
        "Cấp Giấy xác nhận tình trạng hôn nhân",
        "Issuing a marital-status confirmation",
    ),
    ("marriage-registration", "Đăng ký kết hôn", "Marriage registration"),
    (
        "land-use-transfer",
        "Đăng ký biến động quyền sử dụng đất do chuyển nhượng",
        "Registering a transfer of land-use rights",
    ),
    ("household-business-registration", "Đăng ký thành lập hộ kinh doanh", "Household business registration"),
    (
        "business-change-registration",
        "Đăng ký thay đổi nội dung đăng ký doanh nghiệp, hộ kinh doanh",
        "Registering a change to a business registration",
    ),
    # Outside a dossier.
    (
        "identity-verification",
        "Xác thực thông tin công dân khi tiếp nhận yêu cầu",
        "Verifying a citizen's identity when taking a request",
    ),
    (
        "record-correction",
        "Cập nhật, chỉnh sửa dữ liệu theo yêu cầu của người dân",
        "Updating or correcting data at the person's request",
    ),
    (
        "benefit-payment",
        "Chi trả chế độ, chính sách an sinh xã hội",
        "Paying a social-security benefit",
    ),
)
