"""Imports every table module so the metadata (and Alembic) sees the whole schema."""

from lgsp.audit.models import AuditEntry, IndicatorSnapshot, RegistryEvent
from lgsp.bus.outbox import OutboxMessage
from lgsp.catalogue.models import Grant, Service
from lgsp.connectivity.models import HubUptime, LinkStateChange, SystemStatus
from lgsp.exchange.models import ExchangeRecord
from lgsp.onceonly.models import AcceptedDocument, Dossier, DossierComponentRecord
from lgsp.registry.models import Agency, ApiKey, System
from lgsp.security import PlatformSecret
from lgsp.sources.models import Source

__all__ = [
    "AcceptedDocument",
    "Agency",
    "ApiKey",
    "AuditEntry",
    "Dossier",
    "DossierComponentRecord",
    "ExchangeRecord",
    "Grant",
    "HubUptime",
    "IndicatorSnapshot",
    "LinkStateChange",
    "OutboxMessage",
    "PlatformSecret",
    "RegistryEvent",
    "Service",
    "Source",
    "System",
    "SystemStatus",
]
