"""What tests share besides fixtures: factories, the in-process hub, fresh databases and waiting."""

from tests.support.brokers import Broker
from tests.support.databases import PG_SERVER, fresh_database
from tests.support.factories import connector_for, make_agency, make_system, wait_connected
from tests.support.hub import ADMIN_TOKEN, Hub, fast_settings, running_hub
from tests.support.topics import delete_topics
from tests.support.waiting import eventually

__all__ = [
    "ADMIN_TOKEN",
    "PG_SERVER",
    "Broker",
    "Hub",
    "connector_for",
    "delete_topics",
    "eventually",
    "fast_settings",
    "fresh_database",
    "make_agency",
    "make_system",
    "running_hub",
    "wait_connected",
]
