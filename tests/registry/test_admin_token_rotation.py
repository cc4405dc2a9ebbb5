"""The admin bootstrap token rotates without downtime: LGSP_ADMIN_TOKEN plus, during a rolling restart,
LGSP_ADMIN_TOKEN_PREVIOUS (README, "Rotating the admin bootstrap token")."""

import logging

import pytest
from pydantic import SecretStr, ValidationError

from lgsp.settings import Settings
from tests.support import Broker, Hub, running_hub

OLD = "old-admin-token-0123456789abcdef"
NEW = "new-admin-token-fedcba9876543210"
OTHER = "not-an-admin-token-000000000000"

# --- the settings ---------------------------------------------------------------------------------------


def test_both_tokens_are_accepted_during_a_rotation() -> None:
    settings = Settings(admin_token=SecretStr(NEW), admin_token_previous=SecretStr(OLD))
    assert settings.accepts_admin_token(NEW)
    assert settings.accepts_admin_token(OLD)
    for wrong in (OTHER, "", NEW[:-1], NEW + "x", OLD.upper(), "đ" * 10):
        assert not settings.accepts_admin_token(wrong), wrong


def test_after_the_rotation_only_the_new_token_is_accepted() -> None:
    settings = Settings(admin_token=SecretStr(NEW))
    assert settings.accepts_admin_token(NEW)
    assert not settings.accepts_admin_token(OLD)


def test_without_a_token_nothing_is_the_admin_token() -> None:
    settings = Settings()
    assert not settings.accepts_admin_token("")
    assert not settings.accepts_admin_token(NEW)


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_previous_token_is_unset(blank: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_ADMIN_TOKEN", NEW)
    monkeypatch.setenv("LGSP_ADMIN_TOKEN_PREVIOUS", blank)
    settings = Settings(_env_file=None)
    assert settings.admin_token_previous is None
    assert not settings.accepts_admin_token(blank)


def test_a_previous_token_alone_or_equal_to_the_new_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="next to a new admin_token"):
        Settings(admin_token_previous=SecretStr(OLD))
    with pytest.raises(ValidationError, match="must differ"):
        Settings(admin_token=SecretStr(NEW), admin_token_previous=SecretStr(NEW))


@pytest.mark.parametrize("field", ["admin_token", "admin_token_previous"])
def test_a_short_admin_token_is_refused_at_start(field: str) -> None:
    tokens = {"admin_token": SecretStr(NEW), field: SecretStr("short-token")}
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(**tokens)


# --- the hub: a rolling restart, as README describes it ------------------------------------------------


async def status_with(hub: Hub, token: str | None) -> int:
    """The status of an admin-only call (listing keys) made with `token`, or with no key at all."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {"Authorization": ""}
    return (await hub.client.get("/api/v1/keys", headers=headers)).status_code


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # nothing here depends on the database
async def test_old_and_new_tokens_work_during_the_rotation_and_only_new_after(
    settings: Settings, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lgsp")
    # Step 1: the hub restarted with the new token, the old one still accepted.
    during = settings.model_copy(
        update={"admin_token": SecretStr(NEW), "admin_token_previous": SecretStr(OLD)}
    )
    async with running_hub(during, broker.bootstrap) as rotating:
        assert await status_with(rotating, NEW) == 200
        assert await status_with(rotating, OLD) == 200
        assert await status_with(rotating, OTHER) == 401
        assert await status_with(rotating, None) == 401
        refused = await rotating.client.get("/api/v1/keys", headers={"Authorization": f"Bearer {OTHER}"})
        assert refused.json()["error"]["code"] == "client.unauthenticated"
    # The hub reminds the operator that the rotation is not finished, without saying either token.
    assert any("LGSP_ADMIN_TOKEN_PREVIOUS is set" in r.getMessage() for r in caplog.records)
    assert not any(OLD in r.getMessage() or NEW in r.getMessage() for r in caplog.records)

    # Step 3: restarted without the previous token.
    caplog.clear()
    after = settings.model_copy(update={"admin_token": SecretStr(NEW), "admin_token_previous": None})
    async with running_hub(after, broker.bootstrap) as finished:
        assert await status_with(finished, NEW) == 200
        assert await status_with(finished, OLD) == 401
        assert await status_with(finished, None) == 401
    assert not any("LGSP_ADMIN_TOKEN_PREVIOUS" in r.getMessage() for r in caplog.records)
