"""Checking a citizen's token, without a hub: what lgsp.tracker.identity believes and what it refuses,
for tokens the sandbox's stub provider (written apart from it) signs."""

import base64
import json
import time
from datetime import UTC, datetime

import pytest

from lgsp.errors import Unauthenticated, Unavailable
from lgsp.tracker.identity import verify_citizen_token
from lgsp.tracker.settings import IdentitySettings
from tests.tracker.citizens import AUDIENCE, FORGER, ISSUER, PROVIDER

PERSON = "079203001234"
SETTINGS = IdentitySettings(citizen_issuer_key=PROVIDER.public_key, citizen_issuer=ISSUER)


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(token: str, settings: IdentitySettings = SETTINGS) -> str:
    with pytest.raises(Unauthenticated) as refused:
        verify_citizen_token(token, settings, _now())
    return refused.value.message


def _b64url(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_a_token_of_the_provider_names_its_citizen() -> None:
    citizen = verify_citizen_token(PROVIDER.mint(PERSON, AUDIENCE), SETTINGS, _now())
    assert citizen.personal_id == PERSON
    assert citizen.expires_at > _now()


def test_forged_expired_foreign_and_future_tokens_are_refused() -> None:
    assert "not signed by the identity provider" in _refused(FORGER.mint(PERSON, AUDIENCE))
    assert "expired" in _refused(PROVIDER.mint(PERSON, AUDIENCE, lifetime=60, now=time.time() - 3600))
    assert "another service" in _refused(PROVIDER.mint(PERSON, "another-hub"))
    assert "future" in _refused(PROVIDER.mint(PERSON, AUDIENCE, now=time.time() + 3600))
    other_issuer = IdentitySettings(citizen_issuer_key=PROVIDER.public_key, citizen_issuer="https://other")
    assert "another identity provider" in _refused(PROVIDER.mint(PERSON, AUDIENCE), other_issuer)


def test_a_token_within_the_leeway_still_counts() -> None:
    """A token that expired 10 s ago by this clock is taken (30 s of leeway); 60 s ago it is not."""
    now = time.time()
    assert verify_citizen_token(PROVIDER.mint(PERSON, AUDIENCE, lifetime=50, now=now - 60), SETTINGS, _now())
    assert "expired" in _refused(PROVIDER.mint(PERSON, AUDIENCE, lifetime=30, now=now - 90))


def test_a_token_cannot_choose_how_it_is_checked_nor_be_tampered_with() -> None:
    header, claims, signature = PROVIDER.mint(PERSON, AUDIENCE).split(".")
    unsigned = f"{_b64url({'alg': 'none'})}.{claims}."
    assert "not a citizen token" in _refused(unsigned)  # an empty signature is no part at all
    assert "EdDSA" in _refused(f"{_b64url({'alg': 'HS256'})}.{claims}.{signature}")
    other = PROVIDER.mint("079203009999", AUDIENCE).split(".")[1]
    assert "not signed" in _refused(f"{header}.{other}.{signature}")  # someone else's claims, my signature


@pytest.mark.parametrize(
    "token",
    ["", "lgsp_0123456789ab_secret", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.e30", "W10.W10.AA", "x" * 5000],
)
def test_what_is_no_token_at_all_is_refused_as_such(token: str) -> None:
    assert _refused(token)


def test_a_part_nested_deeper_than_json_reads_is_refused_not_a_crash() -> None:
    deep = base64.urlsafe_b64encode(b"[" * 2000).rstrip(b"=").decode()  # within the length bound
    assert "not base64url JSON" in _refused(f"{deep}.e30.AA")


def test_claims_the_hub_cannot_use_are_refused() -> None:
    """A `sub` that is no personal id, or times that are not numbers, even when properly signed."""
    assert "personal identification number" in _refused(PROVIDER.mint("not-a-person", AUDIENCE))
    header = _b64url({"alg": "EdDSA", "typ": "JWT"})
    claims = _b64url({"iss": ISSUER, "aud": AUDIENCE, "sub": PERSON, "iat": True, "exp": "never"})
    signature = base64.urlsafe_b64encode(PROVIDER.key.sign(f"{header}.{claims}".encode()).signature)
    assert "valid `exp`" in _refused(f"{header}.{claims}.{signature.rstrip(b'=').decode()}")


def test_without_a_configured_provider_sign_in_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        verify_citizen_token(PROVIDER.mint(PERSON, AUDIENCE), IdentitySettings(), _now())


def test_the_issuer_key_setting_must_be_an_ed25519_public_key() -> None:
    with pytest.raises(ValueError, match="base64"):
        IdentitySettings(citizen_issuer_key="not base64!")
    with pytest.raises(ValueError, match="32 bytes"):
        IdentitySettings(citizen_issuer_key=base64.b64encode(b"short").decode())
