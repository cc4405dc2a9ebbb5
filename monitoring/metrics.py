"""Every Prometheus metric of the axis, defined once. Labels are bounded: never a system or citizen id.

Each hub process exports its own registry. Counters, histograms and the consumer lag count this
process's work (Prometheus sums them over processes in `rules/recording.yml`); the connectivity,
once-only and outbox gauges are read from the shared database, so every process exports the same figure.
"""

from prometheus_client import Counter, Gauge, Histogram

SYSTEMS_IN_SCOPE = Gauge("lgsp_systems_in_scope", "Registered systems that count toward the indicator")
SYSTEMS_CONNECTED = Gauge("lgsp_systems_connected", "In-scope systems connected now, per link", ["link"])
SYSTEMS_DISCONNECTED_MAX = Gauge(
    "lgsp_systems_disconnected_seconds_max",
    "Longest current outage among in-scope systems, per link (0: all connected); a system never"
    " connected counts from its registration",
    ["link"],
)
CONNECTIVITY_RATIO = Gauge(
    "lgsp_connectivity_ratio", "Connected in-scope systems / in-scope systems, per link", ["link"]
)
HEARTBEATS = Counter("lgsp_heartbeats_total", "Heartbeats accepted from connected systems")
PROBES = Counter(
    "lgsp_probes_total", "Active probes by link and outcome (sent, ok, late, bad_token)", ["link", "outcome"]
)
STATE_CHANGES = Counter(
    "lgsp_link_state_changes_total", "Connected/disconnected transitions recorded", ["link", "connected"]
)
DEAD_LETTERS = Counter(
    "lgsp_dead_letters_total", "Records sent to the dead-letter topic, by reason", ["reason"]
)
# Exported at 0 from the start: rate() cannot see the first increment of a series that appears at 1.
DEAD_LETTER_REASONS = (
    "malformed",
    "invalid",
    # Bus identity (lgsp.bus.authentication): not signed by the party the record claims to come from.
    "unsigned",
    "unknown_signer",
    "wrong_signer",
    "revoked_key",
    "bad_signature",
    "stale",
    "replayed",
    "unknown_session",
    "unknown_system",
    "bad_token",
    "handler_failed",
    "too_large",
)
for _reason in DEAD_LETTER_REASONS:
    DEAD_LETTERS.labels(_reason)
CONSUMED = Counter("lgsp_bus_records_consumed_total", "Records consumed by hub workers", ["worker"])
CONSUMER_LAG = Gauge(
    "lgsp_bus_consumer_lag_records",
    "Records waiting in the broker for a worker: high watermark minus position, summed over the"
    " partitions this process is assigned",
    ["worker"],
)
EVENT_LOOP_LAG = Histogram(
    "lgsp_event_loop_lag_seconds",
    "How late a short timer of this hub process fires: time its event loop was held (long work on it,"
    " a collector pause) or waited for a CPU, which every exchange, heartbeat and API call then waits too",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
OUTBOX_SENT = Counter("lgsp_outbox_sent_total", "Outbox messages published to the bus")
OUTBOX_BACKLOG = Gauge("lgsp_outbox_backlog", "Outbox messages waiting for the bus")
EXCHANGES = Counter(
    "lgsp_exchanges_total", "Exchanges answered, by outcome (success or the fault code)", ["outcome"]
)
EXCHANGE_DURATION = Histogram(
    "lgsp_exchange_duration_seconds",
    "Request in to response out at the hub, for exchanges a provider answered",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DOSSIERS = Counter(
    "lgsp_dossiers_total",
    "Dossiers recorded in the once-only ledger, by whether any document was re-submitted",
    ["outcome"],
)
DOSSIER_COMPONENTS = Counter(
    "lgsp_dossier_components_total",
    "Required documents of recorded dossiers: reused, first_submission or resubmission",
    ["outcome"],
)
ONCE_ONLY_RATIO = Gauge(
    "lgsp_once_only_ratio",
    "Once-only measures over every recorded dossier: by_dossier, by_applicant, reuse (NaN: no dossier)",
    ["measure"],
)
