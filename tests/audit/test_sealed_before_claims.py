"""A dossier sealed before migration 0010 (claims checked) still verifies: the columns it added are null
in it, and were not there when its digest was made; a value in one of them is a change."""

from typing import Any

from lgsp.audit.records import BY_KIND, digest


def dossier(**new: Any) -> dict[str, Any]:
    components = [{"id": 1, "dossier_id": "d1", "document_type": "BIRTH", "source": "reused"}]
    return {
        "dossier": {"id": "d1", "office": "MOT-CUA", "received_on": "2026-08-01", "reused": 1},
        "components": components,
        "documents": [],
    } | new


def with_claim_columns(
    record: dict[str, Any], unverified: Any = None, evidence: Any = None
) -> dict[str, Any]:
    return record | {
        "dossier": record["dossier"] | {"unverified": unverified, "claimed_received_on": None},
        "components": [c | {"evidence": evidence} for c in record["components"]],
    }


def test_a_dossier_sealed_before_claims_were_checked_verifies() -> None:
    sealed = digest(dossier())
    kind = BY_KIND["dossier"]
    assert kind.matches(with_claim_columns(dossier()), sealed)


def test_a_value_in_a_new_column_is_a_change() -> None:
    sealed = digest(dossier())
    kind = BY_KIND["dossier"]
    assert not kind.matches(with_claim_columns(dossier(), unverified=1), sealed)
    assert not kind.matches(with_claim_columns(dossier(), evidence="e1"), sealed)
