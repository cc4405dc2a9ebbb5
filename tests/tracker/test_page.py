"""The done-when of the data tracker (issue 19): a simulated citizen opens /me, in a real headless
Chromium over a real TCP port, and sees every access the once-only simulation made to their data, each
with its purpose; and the token never reaches the server in a URL."""

import io
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request, Response
from rich.console import Console

import sandbox.demo
from connectors.sdk import Connector
from lgsp.api.server import serving
from lgsp.app import create_app
from lgsp.bus.broker import free_port
from sandbox.demo import DemoOptions, run_simulation
from sandbox.simulation import Prepared, SimulationOptions, prepare
from tests.dashboard.test_dashboard import chromium
from tests.support import Broker, delete_topics, fast_settings
from tests.tracker.citizens import ISSUER, PROVIDER

SEED = 11
ROW = re.compile(r'<tr class="(\w+)" data-exchange="([^"]+)" data-purpose="([^"]*)">')
#: (subject, holder, service, purpose) of every request the one-stop shop made about someone.
Asked = tuple[str, str, str, str | None]


def recording(connector: Connector, asked: list[Asked]) -> Callable[..., Awaitable[dict[str, Any]]]:
    """`connector.request`, noting what it asks about whom before it asks."""
    original = connector.request

    async def request(provider: str, service: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("subject"):
            asked.append((kwargs["subject"], provider, service, kwargs.get("purpose")))
        return await original(provider, service, *args, **kwargs)

    return request


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the browser does not see the database
async def test_a_simulated_citizen_sees_every_access_to_their_data_with_its_purpose(
    database_url: str, broker: Broker, tmp_path: Path
) -> None:
    base = fast_settings(
        database_url,
        tmp_path,
        kafka_bootstrap=broker.bootstrap,
        citizen_issuer_key=PROVIDER.public_key,
        citizen_issuer=ISSUER,
    )
    asked: list[Asked] = []

    patch = pytest.MonkeyPatch()

    async def recording_prepare(connectors: dict[str, Connector], *args: Any, **kwargs: Any) -> Prepared:
        patch.setattr(connectors["MOT-CUA"], "request", recording(connectors["MOT-CUA"], asked))
        return await prepare(connectors, *args, **kwargs)

    world = DemoOptions(systems=7, citizens=300, port=free_port(), seed=SEED)
    plan = SimulationOptions(
        applicants=8, dossiers=24, rate=50.0, fault_rate=0.0, seed=SEED, lookup_timeout=5.0
    )
    try:
        patch.setattr(sandbox.demo, "prepare", recording_prepare)
        try:
            await run_simulation(base, world, plan, Console(file=io.StringIO()))
        finally:
            patch.undo()
        people = Counter(subject for subject, *_ in asked if re.fullmatch(r"[0-9]{12}", subject))
        person, count = people.most_common(1)[0]
        expected = Counter(purpose for subject, _, _, purpose in asked if subject == person)
        assert count > 1 and None not in expected, asked

        # The citizen opens /me, on the hub over the simulation's database, signed in by the provider.
        port = free_port()
        app = create_app(base, broker.bootstrap)
        urls: list[str] = []

        @app.middleware("http")
        async def seen(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            urls.append(str(request.url))
            return await call_next(request)

        token = PROVIDER.mint(person, base.citizen_audience)
        async with serving(app, "127.0.0.1", port):
            budget = "--virtual-time-budget=10000"
            url = f"http://127.0.0.1:{port}/me#token={token}"
            dom = (await chromium(tmp_path / "profile", budget, "--dump-dom", url)).decode()
    finally:
        await delete_topics(broker.bootstrap, base.topic_prefix)

    rows = ROW.findall(dom)
    assert len(rows) == count, dom[-3000:]
    assert Counter(purpose for _, _, purpose in rows) == expected  # each with the purpose it was asked for
    assert all(outcome == "success" for outcome, _, _ in rows)  # no holder was down
    assert f'<b id="count">{count}</b>' in dom
    assert len({exchange for _, exchange, _ in rows}) == count
    assert "Đăng ký" in dom or "Cấp" in dom or "Gia hạn" in dom  # purposes shown by their names
    # The page asked the API with the token in a header: no URL the server saw carries it.
    assert any(u.startswith(f"http://127.0.0.1:{port}/api/v1/me/accesses") for u in urls), urls
    assert not any(token in u or "token=" in u for u in urls), urls
