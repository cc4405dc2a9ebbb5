"""The dashboard at `/`: public, the very figures `GET /api/v1/indicators` publishes, every system with
its links, the latest disconnections, everything escaped; and rendered by a real headless Chromium over a
real TCP port, with a screenshot (also written to `$LGSP_SCREENSHOT_DIR` when that is set)."""

import asyncio
import contextlib
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request, Response

from lgsp.api.server import serving
from lgsp.app import create_app
from lgsp.bus.broker import free_port
from lgsp.connectivity.models import SystemStatus
from lgsp.dashboard.assets import REFRESH_SECONDS
from lgsp.db import Database
from lgsp.onceonly.models import Dossier
from lgsp.registry.models import AdministrativeLevel, System
from lgsp.settings import Settings
from sandbox.ngsp.service import running_gateway
from schemas.common import utcnow
from tests.support import ADMIN_TOKEN, Broker, Hub, connector_for, eventually, make_agency, make_system

CHROMIUM = shutil.which("chromium")
CHROMIUM_PATIENCE = 60.0  # seconds; a first start on a cold machine takes a few

#: (id, applicant hash, reused documents, re-submitted documents): by dossier 4/5 = 80% (met, exactly on
#: the target), by applicant 2/3 (a1 re-submitted once), reuse 4/5 (full Decision 766 points).
DOSSIERS = [
    ("D1", "a1", 1, 0),
    ("D2", "a1", 1, 1),
    ("D3", "a2", 0, 0),
    ("D4", "a3", 2, 0),
    ("D5", "a3", 1, 0),
]
CARDS = {
    "lgsp": ("connectivity", "lgsp"),
    "ngsp": ("connectivity", "ngsp"),
    "by-dossier": ("once_only", "by_dossier"),
    "by-applicant": ("once_only", "by_applicant"),
    "reuse": ("once_only", "reuse"),
}
CARD = re.compile(r'<article class="kpi (\w+)" id="kpi-([\w-]+)" data-ratio="([^"]*)">(.*?)</article>', re.S)
ROW = re.compile(r'<tr[^>]*><td class="code">([^<]*)</td>(.*?)</tr>', re.S)


async def insert_dossiers(database_url: str) -> None:
    """Record DOSSIERS straight into the (migrated) hub database, as the ledger would have."""
    database = Database(database_url)
    try:
        async with database.sessions() as session:
            for dossier_id, applicant, reused, resubmitted in DOSSIERS:
                session.add(
                    Dossier(
                        id=dossier_id,
                        office="MOT-CUA",
                        procedure="birth-registration",
                        applicant_hash=applicant,
                        received_on=date(2025, 3, 1),
                        components=2,
                        reused=reused,
                        first_submissions=2 - reused - resubmitted,
                        resubmissions=resubmitted,
                        recorded_at=utcnow(),
                    )
                )
            await session.commit()
    finally:
        await database.dispose()


async def insert_district_system(database_url: str, code: str, name: str, agency: str = "SO-TP") -> None:
    """A system as the registry stored it before districts were abolished on 1 July 2025 (the API refuses
    `district` now): registered, never connected."""
    database = Database(database_url)
    try:
        async with database.sessions() as session:
            system = System(code=code, name=name, agency_code=agency, level=AdministrativeLevel.DISTRICT)
            session.add(system)
            await session.flush()
            assert system.id is not None
            session.add(SystemStatus(system_id=system.id))
            await session.commit()
    finally:
        await database.dispose()


def group_rows(page: str, table: str) -> dict[str, list[str]]:
    """A table of the `groups` section (`by-level`, `by-agency`): first cell's text -> the other cells."""
    found = re.search(rf'<div class="panel" id="{table}">(.*?)</div>', section(page, "groups"), re.S)
    assert found, f"no table {table}"
    rows = re.findall(r'<tr><td class="group">(.*?)</td>(.*?)</tr>', found.group(1), re.S)
    return {
        re.sub(r"<[^>]+>", "", first).strip(): [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", rest)
        ]
        for first, rest in rows
    }


@pytest.fixture
async def anonymous(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same hub that sends no key at all."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hub.app), base_url="http://hub") as client:
        yield client


def section(page: str, name: str) -> str:
    """The HTML of the page's `<section id=name>`."""
    found = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert found, f"no section {name}"
    return found.group(1)


def cards(page: str) -> dict[str, tuple[str, str, str]]:
    """The indicator cards: key -> (state, data-ratio, inner HTML)."""
    return {key: (state, ratio, inner) for state, key, ratio, inner in CARD.findall(page)}


def assert_figures_shown(page: str, figures: dict[str, Any]) -> None:
    """Each indicator card shows the API's ratio, numerator / denominator and verdict against the target."""
    shown = cards(page)
    assert set(shown) == set(CARDS)
    for key, (group, name) in CARDS.items():
        state, ratio, inner = shown[key]
        measure = figures[group][name]
        counts = (
            (measure["connected"], measure["in_scope"])
            if group == "connectivity"
            else (measure["numerator"], measure["denominator"])
        )
        assert f"<b>{counts[0]} / {counts[1]}</b>" in inner, (key, inner)
        if measure["ratio"] is None:
            assert (state, ratio) == ("na", ""), key
            continue
        assert float(ratio) == pytest.approx(measure["ratio"]), key
        assert f"{measure['ratio'] * 100:.1f}%" in inner, (key, inner)
        assert state == ("ok" if measure["ratio"] >= measure["target"] else "bad"), key
        assert f"{measure['target'] * 100:.0f}%" in inner, key


def system_rows(page: str) -> dict[str, str]:
    """The systems table: code -> the rest of its row."""
    return dict(ROW.findall(section(page, "systems")))


async def lgsp_connected(client: httpx.AsyncClient, count: int, ngsp: int | None = None) -> None:
    """Wait until `count` in-scope systems are connected to the LGSP (and `ngsp` to the NGSP)."""

    async def reached() -> bool:
        links = (await client.get("/api/v1/indicators")).json()["connectivity"]
        return bool(links["lgsp"]["connected"] == count and ngsp in (None, links["ngsp"]["connected"]))

    await eventually(reached, timeout=15, what=f"{count} systems connected")


async def test_the_dashboard_shows_the_published_figures_every_system_and_the_latest_disconnections(
    hub: Hub, anonymous: httpx.AsyncClient, broker: Broker, settings: Settings
) -> None:
    await make_agency(hub.client)
    up = await make_system(hub.client, "QLVB", name="Quản lý văn bản và điều hành")
    await insert_district_system(settings.database_url, "LLTP", "System LLTP")  # never connects
    await make_system(hub.client, "MAT-CA", exempt=True, exempt_reason="state secret")
    await insert_dossiers(settings.database_url)
    async with connector_for(up, settings, broker.bootstrap):
        await lgsp_connected(anonymous, 1)
        figures = (await anonymous.get("/api/v1/indicators")).json()
        response = await anonymous.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert len(page.encode()) < 50_000
    # 1 of the 2 in-scope systems (the exempt one counts nowhere); no NGSP here, so 0 of 2 nationally.
    links, once = figures["connectivity"], figures["once_only"]
    assert (links["lgsp"]["connected"], links["lgsp"]["in_scope"], links["ngsp"]["connected"]) == (1, 2, 0)
    assert (once["by_dossier"]["numerator"], once["reuse"]["points"]) == (4, 1.0)
    assert_figures_shown(page, figures)
    assert "<b>1.00 / 1</b>" in cards(page)["reuse"][2]  # the Decision 766 points

    rows = system_rows(page)
    assert set(rows) == {"QLVB", "LLTP", "MAT-CA"}
    assert "Quản lý văn bản và điều hành" in rows["QLVB"]
    assert rows["QLVB"].count('class="dot on"') == 1  # LGSP up, NGSP not (no national gateway running)
    assert "not acknowledged in the national catalogue" in rows["QLVB"]
    assert "never said hello" in rows["LLTP"] and "district" in rows["LLTP"]
    assert "exempt" in rows["MAT-CA"] and "in scope" in rows["QLVB"]
    # Grouped as the indicators count: in scope, LGSP and NDXP connected of in scope, exempt.
    assert group_rows(page, "by-level") == {
        "Tỉnh province": ["1", "1 / 1 100.0%", "0 / 1 0.0%", "1"],
        "Huyện (trước 7/2025) district": ["1", "0 / 1 0.0%", "0 / 1 0.0%", "0"],
    }
    assert group_rows(page, "by-agency") == {"SO-TP": ["2", "1 / 2 50.0%", "0 / 2 0.0%", "1"]}
    assert "none recorded" in section(page, "disconnections")

    # The connector stops: once the TTL has passed, the loss is the latest disconnection on the page.
    await lgsp_connected(anonymous, 0)
    page = (await anonymous.get("/")).text
    latest = re.findall(r"<tr>(.*?)</tr>", section(page, "disconnections").split("<tbody>")[1], re.S)
    assert latest, "no disconnection listed"
    assert any('<td class="code">QLVB</td><td>LGSP</td>' in row and "still down" in row for row in latest), (
        latest
    )
    assert re.search(r"heartbeat stale|no successful probe within the TTL", section(page, "disconnections"))
    assert_figures_shown(page, (await anonymous.get("/api/v1/indicators")).json())


async def test_the_dashboard_escapes_what_integrators_wrote_and_leaves_the_api_alone(
    hub: Hub, anonymous: httpx.AsyncClient
) -> None:
    await make_agency(hub.client)
    await make_system(hub.client, "EVIL", name='<script>alert("x")</script> & <b>bold</b>')
    page = (await anonymous.get("/")).text
    assert '<script>alert("x")' not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert page.count("<script>") == 1  # the page's own refresh script, nothing else
    # `/` sits beside the API, not over it.
    assert (await anonymous.get("/docs")).status_code == 200
    assert (await anonymous.get("/api/v1/indicators")).headers["content-type"] == "application/json"
    assert (await anonymous.get("/api/v1/connectivity/systems")).status_code == 401


# -- in a real browser --------------------------------------------------------------------------------


async def chromium(profile: Path, *args: str) -> bytes:
    """Run headless Chromium once, time-boxed; its stdout."""
    if CHROMIUM is None:
        pytest.fail("Chromium is missing: scripts/ensure-tools.sh installs it (make test runs it)")
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",  # required as root, harmless otherwise
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=profile.parent,
        start_new_session=True,  # its own process group, so a timeout kills its helpers as well
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), CHROMIUM_PATIENCE)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        pytest.fail(f"Chromium did not finish within {CHROMIUM_PATIENCE} s: {' '.join(args)}")
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the browser does not see the database
async def test_headless_chromium_renders_the_figures_and_a_screenshot(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    app = create_app(settings, broker.bootstrap)
    renders: list[str] = []

    @app.middleware("http")
    async def count_renders(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path == "/":
            renders.append(request.headers.get("user-agent", ""))
        return await call_next(request)

    async with (
        running_gateway(settings, broker.bootstrap),
        serving(app, "127.0.0.1", port),
        httpx.AsyncClient(base_url=url, headers=admin) as client,
    ):
        await make_agency(client, "SO-TP")
        await make_agency(client, "SO-TNMT")
        ho_tich = await make_system(client, "HO-TICH", name="Cơ sở dữ liệu hộ tịch điện tử")
        dat_dai = await make_system(
            client, "DAT-DAI", "SO-TNMT", name="Cơ sở dữ liệu đất đai", kind="database"
        )
        await insert_district_system(settings.database_url, "LLTP", "Lý lịch tư pháp")
        await make_agency(client, "UBND-X01", level="commune")
        await make_system(client, "X01-MC", "UBND-X01", name="Một cửa phường Sài Gòn", level="commune")
        await make_system(client, "MAT-CA", name="Hệ thống mật", exempt=True, exempt_reason="state secret")
        await insert_dossiers(settings.database_url)
        async with connector_for(ho_tich, settings, broker.bootstrap):
            async with connector_for(dat_dai, settings, broker.bootstrap):
                await lgsp_connected(client, 2, ngsp=2)
            await lgsp_connected(client, 1)  # DAT-DAI went away: one disconnection to list
            figures = (await client.get("/api/v1/indicators")).json()
            # Virtual time lets the page's refresh timer fire at once: the DOM dumped is a refreshed one.
            budget = f"--virtual-time-budget={REFRESH_SECONDS * 1000 + 500}"
            dom = (await chromium(tmp_path / "profile-dom", budget, "--dump-dom", url)).decode()
            assert len(renders) >= 2, "the page did not refresh itself"
            shot = tmp_path / "dashboard.png"
            await chromium(tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,900", url)

    assert "<title>LGSP" in dom and '<body class="stale">' not in dom
    assert_figures_shown(dom, figures)
    assert set(system_rows(dom)) == {"HO-TICH", "DAT-DAI", "LLTP", "MAT-CA", "X01-MC"}
    # The national platform by today's name, the old one beside it.
    assert "Nền tảng tích hợp, chia sẻ dữ liệu quốc gia" in dom and "NDXP" in dom and "formerly NGSP" in dom
    assert set(group_rows(dom, "by-level")) == {
        "Tỉnh province",
        "Huyện (trước 7/2025) district",
        "Xã, phường commune",
    }
    assert group_rows(dom, "by-agency")["SO-TP"] == ["2", "1 / 2 50.0%", "1 / 2 50.0%", "1"]
    assert "DAT-DAI" in section(dom, "disconnections")

    keep_screenshot(shot)


def keep_screenshot(shot: Path) -> None:
    """Check the screenshot is a real PNG of a real page, and copy it to $LGSP_SCREENSHOT_DIR if set."""
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000, len(png)
    if target := os.environ.get("LGSP_SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(target) / "dashboard.png")
