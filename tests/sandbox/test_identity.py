"""The sandbox's stand-in for VNeID: `lgsp citizen-token` signs a token the hub's own check believes, with
the key the demo configures its hub with."""

import asyncio
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from lgsp.settings import Settings
from lgsp.tracker.identity import verify_citizen_token
from lgsp.tracker.settings import IdentitySettings
from sandbox.demo import demo_settings
from sandbox.identity import citizen_page, stub_provider

PERSON = "079203001234"


async def lgsp(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run the `lgsp` command; its exit status and output."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("lgsp")),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), **env},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_citizen_token_signs_in_a_person_the_hub_believes() -> None:
    secret = secrets.token_hex(32)
    status, output = await lgsp(
        "citizen-token", PERSON, "--hub", "http://hub.invalid:8000/", env={"LGSP_SECRET_KEY": secret}
    )
    assert status == 0, output
    token, link, key = output.strip().splitlines()[-3:]
    assert link == f"http://hub.invalid:8000/me#token={token}"
    assert (
        key == f"LGSP_CITIZEN_ISSUER_KEY={stub_provider(Settings(secret_key=SecretStr(secret))).public_key}"
    )
    hub = IdentitySettings(citizen_issuer_key=key.partition("=")[2])
    assert verify_citizen_token(token, hub, datetime.now(UTC)).personal_id == PERSON


async def test_citizen_token_refuses_what_is_no_personal_id_and_a_missing_secret() -> None:
    status, output = await lgsp("citizen-token", "0792030", env={"LGSP_SECRET_KEY": secrets.token_hex(32)})
    assert status == 2 and "12 digits" in output
    status, output = await lgsp("citizen-token", PERSON, env={})
    assert status == 2 and "LGSP_SECRET_KEY" in output


def test_the_demo_hub_believes_the_sandbox_provider_and_links_a_citizen(tmp_path: Path) -> None:
    settings = demo_settings(Settings(), 8000, tmp_path)
    assert settings.citizen_issuer_key == stub_provider(settings).public_key
    link = citizen_page(settings, "http://127.0.0.1:8000", ["0301234567", PERSON])  # a tax code is no person
    assert link is not None and link.startswith("http://127.0.0.1:8000/me#token=")
    citizen = verify_citizen_token(link.partition("#token=")[2], settings, datetime.now(UTC))
    assert citizen.personal_id == PERSON
    assert citizen_page(settings, "http://127.0.0.1:8000", ["0301234567"]) is None
    # An issuer configured by the operator is kept: the sandbox's stand-in is for when there is none.
    configured = stub_provider(Settings(secret_key=SecretStr(secrets.token_hex(32)))).public_key
    assert (
        demo_settings(Settings(citizen_issuer_key=configured), 8000, tmp_path).citizen_issuer_key
        == configured
    )
