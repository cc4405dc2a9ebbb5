"""The catalogue of purposes: every procedure of the once-only catalogue is one, each is said in
Vietnamese and English, and every code is one a request may carry."""

from pathlib import Path

from pydantic import TypeAdapter

from schemas.onceonly import load_catalogue
from schemas.purposes import PURPOSES, PurposeCode


def test_every_procedure_of_the_catalogue_is_a_purpose() -> None:
    catalogue = load_catalogue()
    missing = sorted(set(catalogue.procedures) - set(PURPOSES))
    assert not missing, f"procedures a one-stop shop could not name as its purpose: {missing}"
    for code, procedure in catalogue.procedures.items():
        assert PURPOSES[code].label_vi == procedure.name, code  # the catalogue's own Vietnamese name


def test_every_purpose_is_a_valid_code_said_in_both_languages() -> None:
    codes = TypeAdapter(PurposeCode)
    for code, purpose in PURPOSES.items():
        assert codes.validate_python(code) == code == purpose.code
        assert purpose.label_vi.strip() and purpose.label_en.strip()
        assert purpose.label_vi != purpose.label_en, code


def test_the_citizens_page_lists_every_purpose() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "citizens" / "data-tracker.md").read_text()
    for purpose in PURPOSES.values():
        assert f"| `{purpose.code}` | {purpose.label_vi} | {purpose.label_en} |" in page, purpose.code
