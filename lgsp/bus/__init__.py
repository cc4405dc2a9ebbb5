"""The shared, thin bus layer: the bus client (`client`), supervised consumer workers (`worker`), the
transactional outbox, dead-letter redaction and the embedded broker."""

from lgsp.bus.client import ENVELOPE_BYTES, Bus, partition_for, shared_topics
from lgsp.bus.worker import Delivery, Rejection, Worker, transient

__all__ = [
    "ENVELOPE_BYTES",
    "Bus",
    "Delivery",
    "Rejection",
    "Worker",
    "partition_for",
    "shared_topics",
    "transient",
]
