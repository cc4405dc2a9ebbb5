"""The composition root: the hub's ASGI application, with its components running in the lifespan."""

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from buscore.signing import Trust
from lgsp import __version__
from lgsp.api import health
from lgsp.api.addresses import install_address_limits
from lgsp.api.errors import install_error_handlers
from lgsp.api.json_body import JsonBodyCheck
from lgsp.api.limits import BodyLimit
from lgsp.audit import router as audit_router
from lgsp.audit.service import AuditTrail
from lgsp.background import LoopLag, Once, bounded, running
from lgsp.bus import Bus, Worker, shared_topics
from lgsp.bus.authentication import Authenticator
from lgsp.bus.outbox import OutboxRelay
from lgsp.bus.principals import Principals
from lgsp.catalogue import router as catalogue_router
from lgsp.connectivity import router as connectivity_router
from lgsp.connectivity.tracker import ConnectivityTracker
from lgsp.dashboard import router as dashboard_router
from lgsp.db import Database
from lgsp.db.engine import wait_for
from lgsp.exchange import router as exchange_router
from lgsp.exchange.facade import ExchangeFacade
from lgsp.exchange.service import ExchangeRouter
from lgsp.indicators import router as indicators_router
from lgsp.onceonly import router as onceonly_router
from lgsp.onceonly.service import Ledger
from lgsp.registry import router as registry_router
from lgsp.registry.keyring import Keyring
from lgsp.reports import router as reports_router
from lgsp.runtime import Runtime
from lgsp.security import PlatformKeys, hub_signer, ngsp_key
from lgsp.settings import Settings
from lgsp.sources import router as sources_router
from lgsp.tracker import router as tracker_router
from schemas.onceonly import load_catalogue

log = logging.getLogger(__name__)

#: Every domain's routes, in the order the API documentation lists them.
ROUTERS = (
    health.router,
    dashboard_router.router,
    registry_router.router,
    catalogue_router.router,
    sources_router.router,
    connectivity_router.router,
    exchange_router.router,
    indicators_router.router,
    onceonly_router.router,
    reports_router.router,
    audit_router.router,
    tracker_router.router,
)


def create_app(settings: Settings, bootstrap: str) -> FastAPI:
    """The hub application; its lifespan migrates the database and runs the hub's components."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.admin_token_previous is not None:
            # Said at every start, so a rotation is not left half done with the old token still valid.
            log.warning(
                "LGSP_ADMIN_TOKEN_PREVIOUS is set: the previous admin token is still accepted; "
                "unset it once every client uses LGSP_ADMIN_TOKEN"
            )
        keys = PlatformKeys.from_settings(settings)  # before anything starts: no hub without its secret
        database = Database(settings.database_url)
        await wait_for(database)
        await database.migrate()
        signer = hub_signer(settings, keys.secret)
        trust = Trust.of(signer, ngsp_key(settings, keys.secret))
        keyring = Keyring(database, trust.keys.values())
        authenticate = Authenticator(keyring, settings.bus_replay_window, settings.bus_clock_skew)
        bus = Bus.from_settings(settings, bootstrap, "lgsp-hub", signer, authenticate)
        # Systems' Kafka credentials and ACLs, set by the registry (docs/deployers/kafka-acls.md).
        principals = Principals(settings, bootstrap) if settings.kafka_principals else None
        router = ExchangeRouter(settings, database, bus, keys)
        facade = ExchangeFacade(router)
        ledger = Ledger(settings, database, bus, keys, router.directory, load_catalogue(settings.catalogue))
        outbox = OutboxRelay(database, bus)
        components = [
            ConnectivityTracker(settings, database, bus, keys),
            router,
            facade,
            ledger,
            AuditTrail(settings, database),
            outbox,
        ]
        # The API serves as soon as the database is ready; the bus connects in the background, and
        # what the API writes meanwhile waits in the outbox.
        connect = Once(
            "bus-connect", lambda: bus.connect(shared_topics(bus.topics, settings.connectivity_partitions))
        )
        try:
            async with running(components, connect, LoopLag()) as jobs:
                app.state.runtime = Runtime(
                    settings=settings,
                    database=database,
                    bus=bus,
                    outbox=outbox,
                    facade=facade,
                    catalogue=ledger.catalogue,
                    keys=keys,
                    trust=trust,
                    workers=[job for job in jobs if isinstance(job, Worker)],
                    principals=principals,
                )
                yield
        finally:
            await bounded(bus.stop(), "closing the bus")
            if principals is not None:
                await bounded(principals.close(), "closing the Kafka principals' admin client")
            await bounded(database.dispose(), "closing the database")

    app = FastAPI(
        title="LGSP hub",
        version=__version__,
        description="Provincial data-sharing axis (LGSP) with its link to the national gateway (NGSP).",
        lifespan=lifespan,
    )
    # The last added runs first: BodyLimit stops an oversized body before JsonBodyCheck buffers it, and
    # the per-address limits (after the trusted proxies' X-Forwarded-For) refuse a request before either.
    app.add_middleware(JsonBodyCheck)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    install_address_limits(app, settings)
    install_error_handlers(app)
    for routes in ROUTERS:
        app.include_router(routes)
    return app
