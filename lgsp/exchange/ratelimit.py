"""Per-client request rate limits: one token bucket per client system, in this hub process's memory.

Each hub process limits the requests it admits. The SDK keys a client's requests by its code, so they all
reach the process that owns that partition of the requests topic and the limit holds across processes;
a client that spreads its records over partitions, or REST callers behind a load balancer, can get up to
N times the rate from N hub processes.
"""

from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # when `tokens` was last brought up to date (monotonic seconds)


class RateLimiter:
    """Token buckets, one per client system: `rate` requests per second on average, `burst` at once.

    A bucket starts full and refills continuously, up to `burst`. Buckets exist for the clients seen only;
    the router takes tokens for authenticated clients alone, so there is at most one per registered system.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, client: str, now: float) -> bool:
        """Take a token from `client`'s bucket at `now` (monotonic seconds); False if there was none."""
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
        elif now > bucket.at:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True
