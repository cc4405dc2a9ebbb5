"""The platform secret (issue 16): required outside the demo, versioned for rotation, and split into one
derived key per use. Unit tests of lgsp.security and lgsp.settings_keys; the hub's refusal to start is
checked on the real `lgsp hub` command and the real application."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr, ValidationError

from lgsp.app import create_app
from lgsp.db import Database
from lgsp.security import LEGACY, MissingSecretKey, PlatformKeys, PlatformSecret, keyed_hash
from lgsp.settings import Settings

OLD, NEW, OTHER = "o" * 32, "n" * 32, "x" * 32
PERSON = "079399000031"


def lgsp(*args: str, cwd: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """The `lgsp` command run with `environment` and no other LGSP_ variable, in `cwd` (no .env there)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LGSP_")}
    command = [str(Path(sys.executable).parent / "lgsp"), *args]
    return subprocess.run(
        command, env=clean | environment, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def rotated_keys() -> PlatformKeys:
    """The keys after a rotation from OLD to NEW, as the settings give them."""
    return PlatformKeys.from_settings(
        Settings(secret_key=SecretStr(NEW), secret_keys_previous=SecretStr(OLD))
    )


def test_a_subject_hash_is_tagged_with_its_key_and_keyed_by_a_key_of_its_own() -> None:
    keys = PlatformKeys.of(NEW)
    stored = keys.subject_hash(PERSON)
    tag, dot, digest = stored.partition(".")
    assert (len(stored), tag, dot, len(digest)) == (64, keys.current.id, ".", 55)
    assert keys.version(stored) == keys.current.id
    # Neither the secret itself nor the probe key makes it: a value keyed for one use stands for no other.
    for key in (NEW.encode(), keys.current.probes):
        assert keyed_hash(key, PERSON)[:55] != digest
    assert keys.current.subjects != keys.current.probes != NEW.encode()
    assert keys.subject_hash(PERSON) == stored, "the same person, the same hash, in every table"
    assert PlatformKeys.of(OTHER).subject_hash(PERSON) != stored


def test_every_hash_a_person_may_be_stored_under_maps_back_to_the_current_one() -> None:
    rotated = PlatformKeys.from_settings(
        Settings(secret_key=SecretStr(NEW), secret_keys_previous=SecretStr(OLD))
    )
    old = PlatformKeys.of(OLD)
    under_old, first_version = old.subject_hash(PERSON), old.current.legacy_subject_hash(PERSON)
    assert rotated.version(first_version) == LEGACY and len(first_version) == 64
    index = rotated.index([PERSON, PERSON, "079399000032"])
    assert index.of(PERSON) == rotated.subject_hash(PERSON)
    assert {under_old, first_version, rotated.subject_hash(PERSON)} <= index.stored()
    assert {index.canonical(h) for h in (under_old, first_version)} == {index.of(PERSON)}
    assert PlatformKeys.of(OTHER).subject_hash(PERSON) not in index.stored()
    assert len(index.stored()) == 2 * 2 * 2, "two people, two keys, tagged and legacy"


def test_a_probe_sent_before_a_rotation_still_verifies_and_a_stranger_token_does_not() -> None:
    described = "probe|HO-TICH|lgsp|1.0"
    token = PlatformKeys.of(OLD).probe_token(described)
    rotated = PlatformKeys.from_settings(
        Settings(secret_key=SecretStr(NEW), secret_keys_previous=SecretStr(OLD))
    )
    assert rotated.probe_token_matches(described, token)
    assert not PlatformKeys.of(NEW).probe_token_matches(described, token)
    assert not rotated.probe_token_matches(described + "x", token)
    assert rotated.probe_token(described) != token, "new probes carry the new key's token"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"secret_key": "too-short"}, "at least 32 characters"),
        ({"secret_keys_previous": OLD}, "only accepted next to a new secret_key"),
        ({"secret_key": NEW, "secret_keys_previous": NEW}, "must not hold the current"),
        ({"secret_key": NEW, "secret_keys_previous": f"{OLD},short"}, "each of secret_keys_previous"),
    ],
)
def test_a_weak_or_inconsistent_secret_is_refused_with_the_reason(
    given: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(**given)  # type: ignore[arg-type]


def test_the_secret_may_come_from_a_file_as_compose_and_kubernetes_mount_it(tmp_path: Path) -> None:
    (tmp_path / "lgsp_secret_key").write_text(NEW + "\n", encoding="utf-8")
    (tmp_path / "lgsp_secret_keys_previous").write_text(f"{OLD}, {OTHER}\n", encoding="utf-8")
    settings = Settings(_secrets_dir=tmp_path)
    keys = PlatformKeys.from_settings(settings)
    assert keys.current == PlatformKeys.of(NEW).current
    assert [k.id for k in keys.previous] == [PlatformKeys.of(s).current.id for s in (OLD, OTHER)]


def test_without_a_secret_there_are_no_platform_keys() -> None:
    with pytest.raises(MissingSecretKey, match="LGSP_SECRET_KEY is not set"):
        PlatformKeys.from_settings(Settings(secret_key=None))


async def test_the_hub_application_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'lgsp.db'}", secret_key=None)
    with pytest.raises(MissingSecretKey):
        async with LifespanManager(create_app(settings, "127.0.0.1:9")):
            pass
    assert not (tmp_path / "lgsp.db").exists(), "refused before it touched the database"


def test_lgsp_hub_says_what_is_missing_and_exits_without_starting_anything(tmp_path: Path) -> None:
    done = lgsp("hub", cwd=tmp_path, LGSP_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'lgsp.db'}")
    assert done.returncode == 2, done
    said = " ".join(done.stderr.split())
    assert "LGSP_SECRET_KEY is not set" in said and "lgsp secret-key new" in said
    assert not (tmp_path / "lgsp.db").exists()


def test_a_secret_an_earlier_version_kept_in_the_database_can_be_moved_out(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lgsp.db'}"

    async def kept_by_an_earlier_version() -> None:
        database = Database(url)
        await database.migrate()
        try:
            async with database.sessions() as session:
                session.add(PlatformSecret(name="platform_key", value=OLD))
                await session.commit()
        finally:
            await database.dispose()

    asyncio.run(kept_by_an_earlier_version())
    exported = lgsp("secret-key", "export-stored", cwd=tmp_path, LGSP_DATABASE_URL=url)
    assert (exported.returncode, exported.stdout.strip()) == (0, OLD), exported
    status = lgsp("secret-key", "status", cwd=tmp_path, LGSP_DATABASE_URL=url, LGSP_SECRET_KEY=NEW)
    assert status.returncode == 0, status
    assert PlatformKeys.of(NEW).current.id in status.stdout, "the table names the current key"
