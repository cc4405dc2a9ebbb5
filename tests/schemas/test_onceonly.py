"""The once-only catalogue: the shipped data loads and is coherent, and bad catalogues are refused clearly."""

from pathlib import Path

import pytest

from schemas.onceonly import CatalogueError, SubjectKind, load_catalogue

REQUIRED_TYPES = {
    "identity": "VN/DAN-CU",
    "birth-certificate": "HO-TICH",
    "marriage-certificate": "HO-TICH",
    "marital-status-confirmation": "HO-TICH",
    "residence-confirmation": "VN/DAN-CU",
    "land-use-right-certificate": "DAT-DAI",
    "business-registration-certificate": "DKKD",
    "health-insurance-card": "BHXH",
}
REQUIRED_PROCEDURES = {
    "birth-registration",
    "permanent-residence-registration",
    "child-health-insurance-card",
    "health-insurance-card-renewal",
    "marital-status-confirmation-issuance",
    "marriage-registration",
    "land-use-transfer",
    "household-business-registration",
    "business-change-registration",
}

# A small valid catalogue; each rejection test breaks one thing in it.
GOOD = """
document_types:
  identity: {name: Căn cước, subject: citizen, holder: VN/DAN-CU}
  birth-certificate: {name: Giấy khai sinh, subject: citizen, holder: HO-TICH}
procedures:
  birth-registration:
    name: Đăng ký khai sinh
    applicant: citizen
    requires: [identity]
    produces: [birth-certificate]
    weight: 2
  permanent-residence-registration:
    name: Đăng ký thường trú
    applicant: citizen
    requires: [identity, birth-certificate]
    follows: [birth-registration]
    weight: 1
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a catalogue file for one test."""
    path = tmp_path / "catalogue.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_catalogue_loads_with_the_required_types_and_procedures() -> None:
    catalogue = load_catalogue()
    assert {code: catalogue.document_type(code).holder for code in REQUIRED_TYPES} == REQUIRED_TYPES
    assert set(catalogue.procedures) >= REQUIRED_PROCEDURES
    assert catalogue.document_type("marital-status-confirmation").validity_days == 180
    assert catalogue.document_type("birth-certificate").validity_days is None
    assert catalogue.document_type("business-registration-certificate").subject is SubjectKind.BUSINESS
    assert catalogue.procedure("business-change-registration").applicant is SubjectKind.BUSINESS
    assert catalogue.holders() == set(REQUIRED_TYPES.values())
    assert load_catalogue() is catalogue  # the default load is cached


def test_birth_residence_health_card_chain_is_expressed_by_follows() -> None:
    catalogue = load_catalogue()
    assert "birth-registration" in catalogue.procedure("permanent-residence-registration").follows
    assert "permanent-residence-registration" in catalogue.procedure("child-health-insurance-card").follows
    assert catalogue.procedure("birth-registration").produces == ["birth-certificate"]
    assert "health-insurance-card" in catalogue.procedure("child-health-insurance-card").produces


def test_every_document_type_is_required_somewhere_and_comes_from_somewhere() -> None:
    catalogue = load_catalogue()
    required = {code for procedure in catalogue.procedures.values() for code in procedure.requires}
    produced = {code for procedure in catalogue.procedures.values() for code in procedure.produces}
    assert required == set(catalogue.document_types)
    for document in catalogue.document_types.values():
        assert document.code in produced or document.holder in catalogue.holders()
    # What no procedure issues must already be in its holder's data: identity and land records.
    assert set(catalogue.document_types) - produced == {"identity", "land-use-right-certificate"}


def test_every_procedure_requires_something_and_weighs_something() -> None:
    for procedure in load_catalogue().procedures.values():
        assert procedure.requires
        assert procedure.weight > 0


def test_unknown_codes_raise_a_clear_key_error() -> None:
    catalogue = load_catalogue()
    with pytest.raises(KeyError, match="unknown document type 'passport'"):
        catalogue.document_type("passport")
    with pytest.raises(KeyError, match="unknown procedure 'divorce'"):
        catalogue.procedure("divorce")


def test_a_small_valid_catalogue_loads_with_codes_from_keys(tmp_path: Path) -> None:
    catalogue = load_catalogue(write(tmp_path, GOOD))
    assert catalogue.procedure("birth-registration").code == "birth-registration"
    assert catalogue.holders() == {"VN/DAN-CU", "HO-TICH"}


@pytest.mark.parametrize(
    ("old", "new", "mentions"),
    [
        pytest.param(
            "requires: [identity, birth-certificate]",
            "requires: [identity, passport]",
            "procedure 'permanent-residence-registration' requires unknown document type 'passport'",
            id="unknown-required-type",
        ),
        pytest.param(
            "follows: [birth-registration]",
            "follows: [adoption-registration]",
            "procedure 'permanent-residence-registration' follows unknown procedure 'adoption-registration'",
            id="unknown-follows",
        ),
        pytest.param(
            "produces: [birth-certificate]",
            "produces: [identity]",
            "procedure 'birth-registration' produces 'identity', which it also requires",
            id="produces-a-required-type",
        ),
        pytest.param(
            "holder: HO-TICH",
            "holder: ho tich!",
            "document_types.birth-certificate.holder",
            id="bad-holder-address",
        ),
        pytest.param(
            "weight: 1", "weight: 0", "procedures.permanent-residence-registration.weight", id="zero-weight"
        ),
        pytest.param(
            "weight: 2", "weight: -1.5", "procedures.birth-registration.weight", id="negative-weight"
        ),
        pytest.param(
            "subject: citizen, holder: HO-TICH",
            "subject: business, holder: HO-TICH",
            "procedure 'permanent-residence-registration' has a citizen applicant but requires"
            " 'birth-certificate', a business document",
            id="required-document-of-another-kind",
        ),
        pytest.param(
            "    weight: 2\n",
            "    follows: [permanent-residence-registration]\n    weight: 2\n",
            "cycle: birth-registration -> permanent-residence-registration -> birth-registration",
            id="follows-cycle",
        ),
        pytest.param(
            "requires: [identity]\n",
            "requires: [identity, identity]\n",
            "procedure 'birth-registration' lists 'identity' more than once in requires",
            id="repeated-requirement",
        ),
        pytest.param(
            "requires: [identity]\n",
            "requires: []\n",
            "procedures.birth-registration.requires",
            id="no-requirement",
        ),
        pytest.param(
            "  birth-certificate: {name",
            "  birth-certificate: {code: birth-cert, name",
            "document type key 'birth-certificate' does not match its code 'birth-cert'",
            id="code-differs-from-key",
        ),
    ],
)
def test_a_bad_catalogue_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, old: str, new: str, mentions: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(CatalogueError) as refused:
        load_catalogue(path)
    assert str(path) in str(refused.value)
    assert mentions in str(refused.value)


def test_bad_yaml_syntax_is_refused_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("requires: [identity]\n", "requires: [identity\n", 1))
    with pytest.raises(CatalogueError, match=r"invalid YAML") as refused:
        load_catalogue(path)
    assert str(path) in str(refused.value)
    assert "line " in str(refused.value)


def test_a_repeated_code_is_refused_rather_than_silently_dropped(tmp_path: Path) -> None:
    repeated = GOOD + "  birth-registration: {name: x, applicant: citizen, requires: [identity], weight: 1}\n"
    with pytest.raises(CatalogueError, match="found duplicate key 'birth-registration'"):
        load_catalogue(write(tmp_path, repeated))


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="expected a mapping"):
        load_catalogue(write(tmp_path, "- just a list\n"))
