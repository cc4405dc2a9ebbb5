"""A system's Kafka identity on a cluster with SASL/SCRAM (docs/deployers/kafka-acls.md): its user name
and the password derived from its API key.

The hub sets the SCRAM credential when it issues a system's key (registration, rotation), and the
connector logs in with the same password, derived here on its side; so the hub stores neither the key
nor the password, and neither travels on the bus. Shared by the hub and the SDK, which must not import
the hub: this module depends on nothing of ours.
"""

import base64
import hashlib
import hmac

#: The SASL mechanism of system principals (the strongest SCRAM variant Kafka offers).
SCRAM_MECHANISM = "SCRAM-SHA-512"

#: What the API key is mixed with. A fixed label separates this derivation from every other use of the
#: key (its stored digest, the bus signing key), so the password says nothing about them; "v1" leaves
#: room for another derivation without a clash.
PASSWORD_LABEL = b"lgsp/kafka-scram-password/v1"


def kafka_username(system: str) -> str:
    """The SCRAM user name, and so the Kafka principal `User:<name>`, of a system: its code.

    System codes (letters, digits, `_` and `-`) never contain a `.`, so principals named with one
    (the hub's, the NGSP stub's) cannot be taken by registering a system.
    """
    return system


def kafka_password(api_key: str) -> str:
    """The SCRAM password of the system holding `api_key`: HMAC-SHA256 of PASSWORD_LABEL under the key,
    in base64url without padding (43 characters). One-way: the password does not give the key away."""
    if not api_key:
        raise ValueError("an API key is needed to derive a Kafka password")
    digest = hmac.new(api_key.encode(), PASSWORD_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sasl_options(system: str, api_key: str) -> dict[str, str]:
    """aiokafka's SASL keyword arguments for a system's clients: add `security_protocol`
    (`SASL_SSL`, or `SASL_PLAINTEXT` on a trusted network) and, with TLS, an `ssl_context`."""
    return {
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": kafka_username(system),
        "sasl_plain_password": kafka_password(api_key),
    }
