"""A request's purpose is an ordinary signed field (docs/citizens/data-tracker.md): it stands in clear in
the statement the client signs, unlike the subject, and changing it breaks the signature."""

import json
from uuid import uuid4

from buscore.signing import Signer, SignerKey, signed_statement
from schemas.messages import ServiceRequest, Signature

API_KEY = "lgsp_0123456789ab_" + "s" * 43
CITIZEN = "079203001234"


def test_the_purpose_is_signed_in_clear_and_cannot_be_changed() -> None:
    signer = Signer.for_system("MOT-CUA", API_KEY)
    key = SignerKey(signer.kid, "MOT-CUA", signer.public_key)
    request = ServiceRequest(
        client="MOT-CUA",
        session_id=uuid4(),
        provider="HO-TICH",
        service="birth-record.get",
        payload={"citizen_id": CITIZEN},
        subject=CITIZEN,
        purpose="birth-registration",
    )
    document = json.loads(signer.seal(request))
    signature = Signature(**document["signature"])
    signed = signed_statement(json.dumps(document).encode(), signature)
    assert signed is not None and key.verifies(signed, signature)
    assert b'"purpose":"birth-registration"' in signed and CITIZEN.encode() not in signed

    changed = json.dumps(document | {"purpose": "record-correction"}).encode()
    restated = signed_statement(changed, signature)
    assert restated is not None and not key.verifies(restated, signature)
