"""Official documents (văn bản): the register of the document-management system (QLVB) of the province.

Each row is one document delivered from one agency to another: a số ký hiệu numbered per issuing agency
and restarting every 1 January, as Decree 30/2020/NĐ-CP prescribes ("45/STP-HCTP" for a công văn drafted
by the judicial-administration unit of the Department of Justice, "12/QĐ-UBND" for a decision of the
provincial people's committee), its kind, trích yếu (subject), signer, urgency and processing status.
The agencies are those of the mock fleet (`connectors.mock`), so documents go between agencies the hub
knows.
"""

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import aiosqlite

from connectors.datasets.names import FAMILY_NAMES, Gender, full_name
from connectors.datasets.population import Household
from connectors.datasets.sampling import ONE_DAY, Counters, Weighted
from connectors.datasets.sqlite import Batch, Row, SqliteStore, Table
from connectors.mock import AGENCIES, COMMUNE_UNITS, commune_agencies

DOCUMENTS = Table(
    "documents",
    (
        ("document_id", "TEXT NOT NULL"),
        ("number", "TEXT NOT NULL"),  # số ký hiệu
        ("kind", "TEXT NOT NULL"),
        ("issuing_agency", "TEXT NOT NULL"),
        ("receiving_agency", "TEXT NOT NULL"),
        ("subject", "TEXT NOT NULL"),  # trích yếu
        ("issued_on", "TEXT NOT NULL"),
        ("signer", "TEXT"),  # always set in the register; a routed document may leave it out
        ("signer_title", "TEXT"),
        ("urgency", "TEXT NOT NULL"),  # thường | khẩn | hỏa tốc
        ("status", "TEXT NOT NULL"),  # received | processing | done
        ("received_at", "TEXT NOT NULL"),  # ISO date-time in Vietnam time (+07:00)
    ),
    unique=("document_id",),
    indexed=("receiving_agency",),
)

# The kind and the abbreviation that opens the ký hiệu of every kind but the công văn.
KINDS: dict[str, str] = {
    "Công văn": "",
    "Quyết định": "QĐ",
    "Tờ trình": "TTr",
    "Báo cáo": "BC",
    "Kế hoạch": "KH",
    "Thông báo": "TB",
}
URGENCIES = ("thường", "khẩn", "hỏa tốc")
STATUSES = ("received", "processing", "done")
# "05/STP-HCTP", "123/QĐ-UBND", "7/TTr-SKHĐT": number, then two or more dash-joined symbols.
NUMBER_PATTERN = "^[0-9]+/[0-9A-Za-zĐđ]+(-[0-9A-Za-zĐđ]+)+$"
VIETNAM_TIME = timezone(timedelta(hours=7))
MIN_DOCUMENTS = 300  # a small population still gets a register worth browsing

_FIELDS = {
    "justice": ("hộ tịch", "chứng thực", "lý lịch tư pháp"),
    "land": ("đất đai", "môi trường", "tài nguyên nước"),
    "planning": ("đăng ký kinh doanh", "đầu tư"),
    "insurance": ("bảo hiểm xã hội", "bảo hiểm y tế"),
    "police": ("cư trú", "căn cước"),
    "health": ("khám bệnh, chữa bệnh", "dược"),
    "education": ("giáo dục và đào tạo",),
}
_ALL_FIELDS = tuple(field for fields in _FIELDS.values() for field in fields)


@dataclass(frozen=True, slots=True)
class _Agency:
    """How an agency appears in its documents."""

    code: str
    symbol: str  # its part of a ký hiệu: "UBND", "STP", "SKHĐT"
    units: tuple[str, ...]  # drafting units, which close a công văn's ký hiệu: "STP-HCTP"
    head: str  # title of its head; a deputy's is "Phó" and the same
    fields: tuple[str, ...]  # the administrative-procedure fields it deals with
    weight: float  # how much it writes, and is written to

    @property
    def deputy(self) -> str:
        """The title of a deputy head: "Phó Giám đốc", "Phó Chánh Văn phòng"."""
        return f"Phó {self.head}"


_PROVINCIAL = {
    "UBND-TINH": _Agency("UBND-TINH", "UBND", ("VP", "KT", "VX", "ĐT", "NCPC"), "Chủ tịch", _ALL_FIELDS, 4),
    "VP-UBND": _Agency("VP-UBND", "VP", ("HCTC", "KT", "VX", "KSTT"), "Chánh Văn phòng", _ALL_FIELDS, 3),
    "SO-TP": _Agency("SO-TP", "STP", ("VP", "HCTP", "BTTP", "XDKTVB"), "Giám đốc", _FIELDS["justice"], 2),
    "SO-TNMT": _Agency("SO-TNMT", "STNMT", ("VP", "QLĐ", "MT", "ĐĐBĐ"), "Giám đốc", _FIELDS["land"], 2),
    "SO-KHDT": _Agency("SO-KHDT", "SKHĐT", ("VP", "ĐKKD", "TH"), "Giám đốc", _FIELDS["planning"], 2),
    "BHXH-TINH": _Agency("BHXH-TINH", "BHXH", ("VP", "TST", "CĐBHXH"), "Giám đốc", _FIELDS["insurance"], 2),
    "CA-TINH": _Agency("CA-TINH", "CAT", ("PV01", "PC06"), "Giám đốc", _FIELDS["police"], 1),
    "SO-YT": _Agency("SO-YT", "SYT", ("VP", "NVY", "NVD"), "Giám đốc", _FIELDS["health"], 2),
    "SO-GDDT": _Agency("SO-GDDT", "SGDĐT", ("VP", "GDPT", "KHTC"), "Giám đốc", _FIELDS["education"], 2),
}
# The provincial agencies of the fleet (in its order), then one people's committee per commune unit.
_AGENCY_LIST = [
    *(_PROVINCIAL[agency.code] for agency in AGENCIES if agency.code in _PROVINCIAL),
    *(
        _Agency(agency.code, "UBND", ("VP", "TP", "TNMT", "KT"), "Chủ tịch", _ALL_FIELDS, 0.6)
        for agency in commune_agencies(len(COMMUNE_UNITS))
    ),
]
AGENCY_CODES = tuple(agency.code for agency in _AGENCY_LIST)
_AGENCIES: Weighted[_Agency] = Weighted((agency, agency.weight) for agency in _AGENCY_LIST)
_PROVINCE = _PROVINCIAL["UBND-TINH"]
_DEPARTMENTS = Weighted(
    (agency, agency.weight) for agency in _PROVINCIAL.values() if agency.code.startswith(("SO-", "BHXH"))
)

# Công văn (official letters) are most of any register.
_KIND_WEIGHTS = {
    "Công văn": 55, "Báo cáo": 15, "Quyết định": 10, "Tờ trình": 8, "Kế hoạch": 6, "Thông báo": 6,
}  # fmt: skip
_KINDS: Weighted[str] = Weighted(_KIND_WEIGHTS.items())
# The provincial committee submits and reports to the Government, outside this register.
_PROVINCE_KINDS: Weighted[str] = Weighted(
    (kind, weight) for kind, weight in _KIND_WEIGHTS.items() if kind not in ("Tờ trình", "Báo cáo")
)
_UPWARD = frozenset({"Tờ trình", "Báo cáo"})
# Recently received documents are still being handled.
_RECENT_STATUS: Weighted[str] = Weighted(zip(STATUSES, (35, 45, 20), strict=True))
# Share of documents of each kind the head signs himself; deputies sign the rest ("KT. GIÁM ĐỐC").
_HEAD_SIGNS = {"Quyết định": 0.4, "Tờ trình": 0.5}
_URGENCY: Weighted[str] = Weighted(zip(URGENCIES, (88, 10, 2), strict=True))
# Working days from issue to receipt, by urgency: electronic routing is quick, a hỏa tốc one same-day.
_DELAYS: dict[str, Weighted[int]] = {
    "thường": Weighted(((0, 4), (1, 4), (2, 2), (3, 1))),
    "khẩn": Weighted(((0, 7), (1, 3))),
    "hỏa tốc": Weighted(((0, 1),)),
}

_SUBJECTS: dict[str, Weighted[str]] = {
    "Công văn": Weighted(
        (
            ("V/v triển khai kết nối, chia sẻ dữ liệu qua nền tảng LGSP", 3),
            ("V/v báo cáo tình hình giải quyết thủ tục hành chính quý {quarter} năm {quarter_year}", 3),
            ("V/v đề nghị cung cấp thông tin, dữ liệu lĩnh vực {field}", 2),
            ("V/v góp ý dự thảo danh mục thủ tục hành chính lĩnh vực {field}", 2),
            ("V/v rà soát, cập nhật dữ liệu {field} trên Hệ thống thông tin giải quyết TTHC", 2),
            ("V/v đẩy mạnh cung cấp dịch vụ công trực tuyến toàn trình năm {year}", 2),
            ("V/v triển khai Đề án 06 về ứng dụng dữ liệu dân cư, định danh và xác thực điện tử", 2),
            ("V/v số hóa hồ sơ, kết quả giải quyết thủ tục hành chính lĩnh vực {field}", 2),
            ("V/v chấn chỉnh tình trạng trễ hạn trong giải quyết hồ sơ lĩnh vực {field}", 1),
            ("V/v cử công chức tham dự tập huấn nghiệp vụ {field}", 1),
            ("V/v phối hợp xác minh thông tin lĩnh vực {field}", 1),
            ("V/v bảo đảm an toàn thông tin mạng cho các hệ thống thông tin dùng chung", 1),
            ("V/v thực hiện chế độ báo cáo thống kê tháng {month}/{year}", 1),
        )
    ),
    "Quyết định": Weighted(
        (
            ("Về việc công bố danh mục thủ tục hành chính được chuẩn hóa lĩnh vực {field}", 3),
            ("Về việc phê duyệt Kế hoạch chuyển đổi số năm {year}", 1),
            ("Về việc ban hành Quy chế quản lý, vận hành và khai thác nền tảng LGSP của tỉnh", 1),
            ("Về việc kiện toàn Tổ công tác triển khai Đề án 06", 1),
            ("Về việc giao chỉ tiêu số hóa hồ sơ, kết quả giải quyết thủ tục hành chính năm {year}", 1),
        )
    ),
    "Tờ trình": Weighted(
        (
            ("Về việc đề nghị công bố danh mục thủ tục hành chính lĩnh vực {field}", 3),
            ("Về việc đề nghị phê duyệt danh mục cơ sở dữ liệu dùng chung của tỉnh", 1),
            ("Về việc đề nghị bổ sung kinh phí số hóa dữ liệu lĩnh vực {field} năm {year}", 1),
            ("Về việc đề nghị ban hành Kế hoạch cải cách hành chính năm {next_year}", 1),
        )
    ),
    "Báo cáo": Weighted(
        (
            ("Kết quả thực hiện công tác cải cách hành chính quý {quarter} năm {quarter_year}", 3),
            ("Tình hình giải quyết thủ tục hành chính lĩnh vực {field} quý {quarter} năm {quarter_year}", 3),
            ("Kết quả triển khai Đề án 06 tháng {last_month}/{last_month_year}", 2),
            ("Tình hình kết nối, chia sẻ dữ liệu qua nền tảng LGSP quý {quarter} năm {quarter_year}", 1),
            ("Tổng kết công tác năm {last_year} và phương hướng, nhiệm vụ năm {year}", 1),
        )
    ),
    "Kế hoạch": Weighted(
        (
            ("Triển khai nhiệm vụ chuyển đổi số năm {year}", 2),
            ("Kiểm tra công tác cải cách hành chính năm {year}", 1),
            ("Tuyên truyền cải cách hành chính năm {year}", 1),
            ("Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính lĩnh vực {field} năm {year}", 2),
        )
    ),
    "Thông báo": Weighted(
        (
            ("Kết luận của lãnh đạo tại cuộc họp giao ban tháng {month}/{year}", 2),
            ("Lịch tiếp công dân tháng {next_month}/{next_month_year}", 1),
            ("Tạm ngừng cung cấp dịch vụ công trực tuyến để nâng cấp hệ thống", 1),
            ("Kết quả kiểm tra công tác văn thư, lưu trữ năm {year}", 1),
        )
    ),
}
_ROMAN = ("I", "II", "III", "IV")


def document_id(issuing_agency: str, year: int, number: str) -> str:
    """The register's id of a document: numbers restart every year, so issuer, year and number name it.

    Derived rather than counted, so a document routed again (even after the connector restarted) gets
    the id it had, and no two documents ever share one.
    """
    digest = hashlib.sha256(f"{issuing_agency}|{year}|{number}".encode()).hexdigest()
    return f"VB-{digest[:16].upper()}"


def working_days(first: date, last: date) -> list[date]:
    """Monday to Friday from `first` to `last`, both included."""
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += ONE_DAY
    return days


class DocumentGenerator:
    """Issues the register's documents in date order, over the working days of the two calendar years
    before the reference date and the part of its year up to the day before it.

    Documents are not about citizens: each batch of households just carries its population share of the
    `documents`, so generation stays bounded by the batch size and every agency's numbers count up
    through each year as a real register's do.
    """

    def __init__(self, rng: random.Random, as_of: date, *, citizens: int, documents: int) -> None:
        self._rng = rng
        self._as_of = as_of
        self._citizens = citizens
        self._total = documents
        self._days = working_days(date(as_of.year - 2, 1, 1), as_of - ONE_DAY)
        self._seen = 0  # citizens in the batches so far
        self._issued = 0
        self._numbers = Counters()
        # Each agency's head, then its deputies, for the whole period.
        self._leaders = {agency.code: self._people(4) for agency in _AGENCIES.items}

    def rows(self, households: Sequence[Household]) -> Batch:
        """The documents issued during this batch's share of the period."""
        self._seen += sum(len(household.members) for household in households)
        due = self._total * min(self._seen, self._citizens) // self._citizens
        rows = [self._document(index) for index in range(self._issued, due)]
        self._issued = due
        return {DOCUMENTS: rows}

    def _document(self, index: int) -> Row:
        rng = self._rng
        issued_index = index * len(self._days) // self._total
        issued = self._days[issued_index]
        issuer = _AGENCIES.pick(rng)
        kind = (_PROVINCE_KINDS if issuer is _PROVINCE else _KINDS).pick(rng)
        receiver = self._receiver(issuer, kind)
        serial = self._numbers.next((issuer.code, issued.year))
        abbreviation = KINDS[kind]
        if abbreviation:
            symbol = f"{abbreviation}-{issuer.symbol}"
        else:  # a công văn names the unit that drafted it
            symbol = f"{issuer.symbol}-{rng.choice(issuer.units)}"
        # A committee or its office writes about the field of the department it writes to.
        fields = issuer.fields if issuer.fields is not _ALL_FIELDS else receiver.fields
        subject = _SUBJECTS[kind].pick(rng).format(**_period(issued), field=rng.choice(fields))
        leaders = self._leaders[issuer.code]
        if rng.random() < _HEAD_SIGNS.get(kind, 0.2):
            signer, title = leaders[0], issuer.head
        else:
            signer, title = rng.choice(leaders[1:]), issuer.deputy
        urgency = _URGENCY.pick(rng)
        received_index = min(issued_index + _DELAYS[urgency].pick(rng), len(self._days) - 1)
        received_day = self._days[received_index]
        minutes = rng.randrange(7 * 60 + 30, 17 * 60)  # office hours
        received_at = datetime.combine(received_day, time(minutes // 60, minutes % 60), VIETNAM_TIME)
        number = f"{serial:02d}/{symbol}"  # numbers below 10 take a leading zero
        return (
            document_id(issuer.code, issued.year, number),
            number,
            kind,
            issuer.code,
            receiver.code,
            subject,
            issued.isoformat(),
            signer,
            title,
            urgency,
            self._status((self._as_of - received_day).days),
            received_at.isoformat(),
        )

    def _receiver(self, issuer: _Agency, kind: str) -> _Agency:
        """Submissions and reports go up, to the provincial committee or (from a commune) a department;
        everything else to any other agency, the busier ones more often."""
        rng = self._rng
        if kind in _UPWARD:
            if issuer.code in _PROVINCIAL or rng.random() < 0.6:
                return _PROVINCE
            return _DEPARTMENTS.pick(rng)
        receiver = _AGENCIES.pick(rng)
        while receiver is issuer:
            receiver = _AGENCIES.pick(rng)
        return receiver

    def _status(self, age_days: int) -> str:
        """Recent documents are still being handled; old ones are nearly all done."""
        rng = self._rng
        if age_days <= 14:
            return _RECENT_STATUS.pick(rng)
        if age_days <= 60:
            return "processing" if rng.random() < 0.25 else "done"
        return "processing" if rng.random() < 0.03 else "done"

    def _people(self, count: int) -> tuple[str, ...]:
        """Names of `count` officials, born 1965 to 1981, about a third of them women."""
        rng = self._rng
        names = []
        for _ in range(count):
            gender: Gender = "female" if rng.random() < 0.3 else "male"
            names.append(full_name(rng, gender, rng.randrange(1965, 1982), FAMILY_NAMES.pick(rng)))
        return tuple(names)


def _period(day: date) -> dict[str, Any]:
    """What a subject may say about the time it was written: the quarter and month just ended, etc."""
    quarter_index = (day.month - 1) // 3 - 1  # the last full quarter
    last_month = day.month - 1 or 12
    next_month = day.month % 12 + 1
    return {
        "year": day.year,
        "last_year": day.year - 1,
        "next_year": day.year + 1,
        "quarter": _ROMAN[quarter_index % 4],
        "quarter_year": day.year - (quarter_index < 0),
        "month": day.month,
        "last_month": last_month,
        "last_month_year": day.year - (day.month == 1),
        "next_month": next_month,
        "next_month_year": day.year + (day.month == 12),
    }


class DocumentStore(SqliteStore):
    """The document register of the QLVB system: the generated documents, read-only, and the documents
    routed through this store since it was opened.

    Routed documents are kept in memory, like the evidence holders' registrations: the dataset file is
    a read-only snapshot that other readers share and a regeneration replaces wholesale, so writing to
    it (or to a side file) would make one run depend on the last. A mock keeps what it was sent while it
    runs; the hub's exchange log is the durable record of every delivery.
    """

    DATASET = "documents"
    TABLES = (DOCUMENTS,)

    def __init__(self, connection: aiosqlite.Connection) -> None:
        super().__init__(connection)
        self._routed: dict[str, dict[str, Any]] = {}  # by document id
        self._routed_to: dict[str, list[dict[str, Any]]] = {}  # by receiver, oldest first

    async def document(self, document_id: str) -> dict[str, Any] | None:
        """One document by id, routed or from the register, or None."""
        routed = self._routed.get(document_id)
        if routed is not None:
            return dict(routed)
        return await self._one(DOCUMENTS, "document_id = ?", document_id)

    async def received_by(self, agency: str, limit: int = 20) -> list[dict[str, Any]]:
        """The last `limit` documents `agency` received, newest first.

        Routed documents came after the register's snapshot, so they come first, newest routed first.
        """
        limit = max(limit, 0)
        routed = [dict(row) for row in reversed(self._routed_to.get(agency, [])[-limit:])] if limit else []
        held = await self._all(
            DOCUMENTS,
            "receiving_agency = ? ORDER BY received_at DESC, rowid DESC LIMIT ?",
            agency,
            limit - len(routed),
        )
        return routed + held

    async def route(self, document: Mapping[str, str]) -> str:
        """Deliver `document` to its receiving agency now; returns its id.

        `document` holds the columns from `number` to `urgency` (`signer` and `signer_title` may be
        left out). Routing a document the register holds already (same issuer, number and year of issue)
        changes nothing and returns its id. ValueError if that number is held for a different document,
        if `issued_on` is not a date, or if an agency sends to itself.
        """
        try:
            issued = date.fromisoformat(document["issued_on"])
        except ValueError:
            raise ValueError(f"issued_on {document['issued_on']!r} is not a date") from None
        issuer, receiver = document["issuing_agency"], document["receiving_agency"]
        if issuer == receiver:
            raise ValueError(f"{issuer} cannot route a document to itself")
        key = document_id(issuer, issued.year, document["number"])
        held = self._routed.get(key) or await self._one(DOCUMENTS, "document_id = ?", key)
        if held is None:
            row: dict[str, Any] = {column: document.get(column) for column in DOCUMENTS.column_names}
            row |= {
                "document_id": key,
                "status": "received",
                "received_at": datetime.now(VIETNAM_TIME).isoformat(timespec="seconds"),
            }
            held = self._routed.setdefault(key, row)  # a concurrent call may have routed it meanwhile
            if held is row:
                self._routed_to.setdefault(receiver, []).append(row)
                return key
        different = sorted(column for column, value in document.items() if held.get(column) != value)
        if different:
            raise ValueError(
                f"{document['number']} of {issuer} ({issued.year}) is already document {key},"
                f" which differs in {', '.join(different)}"
            )
        return key

    async def sample_ids(self, n: int, seed: int) -> list[str]:
        """`n` distinct ids of documents in the register, the same ones for the same seed."""
        return await self._sample(DOCUMENTS, "document_id", n, seed)
