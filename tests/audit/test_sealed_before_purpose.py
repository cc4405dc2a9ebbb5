"""An exchange record sealed before migration 0011 (its purpose) still verifies, and so does one sealed
before 0008 (its evidence) too: the columns they added are null in it now, and were not there when its
digest was made. A value in one of them is a change."""

from typing import Any

from lgsp.audit.records import BY_KIND, digest

KIND = BY_KIND["exchange"]


def exchange(**columns: Any) -> dict[str, Any]:
    return {"id": "e1", "client": "MOT-CUA", "provider": "HO-TICH", "outcome": "success"} | columns


def test_records_sealed_before_the_purpose_or_the_evidence_verify() -> None:
    with_evidence = exchange(request_evidence="{}", response_evidence="{}")
    assert KIND.matches(with_evidence | {"purpose": None}, digest(with_evidence))
    bare = exchange()
    now = bare | {"request_evidence": None, "response_evidence": None, "purpose": None}
    assert KIND.matches(now, digest(bare))
    assert KIND.matches(
        now | {"purpose": "birth-registration"}, digest(now | {"purpose": "birth-registration"})
    )


def test_a_purpose_added_or_changed_after_sealing_is_a_change() -> None:
    with_evidence = exchange(request_evidence="{}", response_evidence="{}")
    assert not KIND.matches(with_evidence | {"purpose": "birth-registration"}, digest(with_evidence))
    sealed = digest(with_evidence | {"purpose": "birth-registration"})
    assert not KIND.matches(with_evidence | {"purpose": "record-correction"}, sealed)
    assert not KIND.matches(with_evidence | {"purpose": None}, sealed)
