"""The hub's ASGI application: REST API, health and metrics, with the bus machinery in its lifespan."""

import asyncio
import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from lgsp import __version__
from lgsp.api import health
from lgsp.api.json_body import JsonBodyCheck
from lgsp.api.limits import BodyLimit
from lgsp.audit import router as audit_router
from lgsp.audit.service import AuditTrail
from lgsp.bus.kafka import Bus, shared_topics, transient
from lgsp.bus.outbox import OutboxRelay
from lgsp.catalogue import router as catalogue_router
from lgsp.connectivity import router as connectivity_router
from lgsp.connectivity.service import ConnectivityTracker
from lgsp.dashboard import router as dashboard_router
from lgsp.db import Database
from lgsp.db.engine import wait_for
from lgsp.errors import HTTP_STATUS_CODES, DomainError, error_body
from lgsp.exchange import router as exchange_router
from lgsp.exchange.facade import ExchangeFacade
from lgsp.exchange.service import ExchangeRouter
from lgsp.indicators import router as indicators_router
from lgsp.onceonly import router as onceonly_router
from lgsp.onceonly.service import Ledger
from lgsp.registry import router as registry_router
from lgsp.reports import router as reports_router
from lgsp.runtime import Runtime
from lgsp.security import platform_key
from lgsp.settings import Settings
from schemas.onceonly import load_catalogue
from schemas.topics import Topics

log = logging.getLogger(__name__)


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]]
    body = error_body("client.bad_request", "; ".join(problems) or "invalid request")
    # A body that is not JSON reaches validation as bytes, echoed as the error's input: bytes that are
    # not UTF-8 (e.g. text/plain with 0xff) must not turn the 422 into a 500 while being encoded.
    detail = jsonable_encoder(exc.errors()[:10], custom_encoder={bytes: lambda b: b.decode(errors="replace")})
    return JSONResponse(body | {"detail": detail}, 422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    """The framework's own errors (unknown route, wrong method, unreadable body) in the API's shape."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = HTTP_STATUS_CODES.get(status, "client.error" if status < 500 else "server.error")
    message = exc.detail if isinstance(exc.detail, str) else "the request could not be served"
    if status == 400 and isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI: "error parsing the body"
        message = "the request body is not valid UTF-8"
    return JSONResponse(error_body(code, message), status, headers=exc.headers)


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, sa_exc.DBAPIError)
    if transient(exc):
        body = error_body("server.unavailable", "the database is not reachable now; try again shortly")
        return JSONResponse(body, 503, headers={"Retry-After": "5"})
    if "0x00" in str(exc.orig):  # PostgreSQL text cannot hold NUL; refuse it as bad input
        return JSONResponse(error_body("client.bad_request", "text must not contain NUL characters"), 422)
    raise exc


#: Modules whose OSError means "the database is not reachable".
_DATABASE_DRIVERS = ("asyncpg", "aiosqlite", "sqlalchemy")


def raised_by_database(exc: BaseException) -> bool:
    """Whether `exc` came out of the database driver (found by the modules its traceback passes)."""
    return any(
        str(frame.f_globals.get("__name__", "")).startswith(_DATABASE_DRIVERS)
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


async def _connection_error(_: Request, exc: Exception) -> JSONResponse:
    """A connection the database driver could not open (asyncpg raises OSError when the server is down
    or restarting, not a DBAPIError): 503 like any unreachable database, never a 500. Any other OSError
    is a fault of this server, and is left to be reported as one."""
    assert isinstance(exc, OSError)
    if not raised_by_database(exc):
        raise exc
    body = error_body("server.unavailable", "the database is not reachable now; try again shortly")
    return JSONResponse(body, 503, headers={"Retry-After": "5"})


def new_bus(settings: Settings, bootstrap: str, client_id: str) -> Bus:
    """A bus client configured from settings (not yet connected)."""
    return Bus(
        bootstrap,
        Topics(settings.topic_prefix),
        client_id,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        max_message_bytes=settings.max_message_bytes,
        kafka_options=settings.kafka_options(),
    )


async def bounded(step: Awaitable[Any], what: str, seconds: float = 10.0) -> None:
    """Run one shutdown step, giving up after `seconds` so a dead broker or database cannot hang exit."""
    try:
        async with asyncio.timeout(seconds):
            await step
    except Exception as exc:
        log.warning("shutdown: %s failed or timed out (%s)", what, type(exc).__name__)


def create_app(settings: Settings, bootstrap: str) -> FastAPI:
    """The hub application; its lifespan migrates the database and runs the bus workers."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.admin_token_previous is not None:
            # Said at every start, so a rotation is not left half done with the old token still valid.
            log.warning(
                "LGSP_ADMIN_TOKEN_PREVIOUS is set: the previous admin token is still accepted; "
                "unset it once every client uses LGSP_ADMIN_TOKEN"
            )
        database = Database(settings.database_url)
        await wait_for(database)
        await database.migrate()
        key = await platform_key(database, settings.secret_key)
        bus = new_bus(settings, bootstrap, client_id="lgsp-hub")
        tracker = ConnectivityTracker(settings, database, bus, key)
        router = ExchangeRouter(settings, database, bus, key)
        facade = ExchangeFacade(router)
        audit = AuditTrail(settings, database)
        ledger = Ledger(settings, database, bus, key, router.directory, load_catalogue(settings.catalogue))
        app.state.facade = facade
        app.state.catalogue = ledger.catalogue
        outbox = OutboxRelay(database, bus)
        app.state.settings = settings
        app.state.database = database
        app.state.runtime = Runtime(
            settings=settings,
            database=database,
            topics=bus.topics,
            bus=bus,
            outbox=outbox,
            platform_key=key,
            workers=[
                tracker.connectivity_worker,
                tracker.ngsp_worker,
                router.requests,
                router.responses,
                router.ngsp_results,
                ledger.worker,
            ],
        )
        # The API serves as soon as the database is ready; the bus connects in the background, and
        # what the API writes meanwhile waits in the outbox.
        tasks = [
            asyncio.create_task(
                bus.connect(shared_topics(bus.topics, settings.connectivity_partitions)), name="bus-connect"
            ),
            *tracker.tasks(),
            *router.tasks(),
            *ledger.tasks(),
            *audit.tasks(),
            *facade.tasks(),
            asyncio.create_task(outbox.run(), name="outbox"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await bounded(asyncio.gather(*tasks, return_exceptions=True), "stopping workers")
            await bounded(tracker.stopped(), "recording the stop")
            await bounded(bus.stop(), "closing the bus")
            await bounded(database.dispose(), "closing the database")

    app = FastAPI(
        title="LGSP hub",
        version=__version__,
        description="Provincial data-sharing axis (LGSP) with its link to the national gateway (NGSP).",
        lifespan=lifespan,
    )
    # The last added runs first: BodyLimit stops an oversized body before JsonBodyCheck buffers it.
    app.add_middleware(JsonBodyCheck)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(OSError, _connection_error)
    app.include_router(health.router)
    app.include_router(dashboard_router.router)
    app.include_router(registry_router.router)
    app.include_router(catalogue_router.router)
    app.include_router(connectivity_router.router)
    app.include_router(exchange_router.router)
    app.include_router(indicators_router.router)
    app.include_router(onceonly_router.router)
    app.include_router(reports_router.router)
    app.include_router(audit_router.router)
    return app
