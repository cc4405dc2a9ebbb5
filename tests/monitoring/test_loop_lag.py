"""`lgsp_event_loop_lag_seconds`: a loop held by blocking work shows as lag, an idle one does not."""

import asyncio
import contextlib
import time

from prometheus_client import REGISTRY

from lgsp.background import LoopLag


def lag_samples() -> tuple[float, float, float]:
    """Count, sum, and how many observations were at most 10 ms, so far."""

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return (
        sample("lgsp_event_loop_lag_seconds_count"),
        sample("lgsp_event_loop_lag_seconds_sum"),
        sample("lgsp_event_loop_lag_seconds_bucket", le="0.01"),
    )


async def test_a_held_event_loop_shows_as_lag_and_an_idle_one_does_not() -> None:
    count, _, quick = lag_samples()
    measuring = asyncio.create_task(LoopLag(interval=0.01).run())
    try:
        await asyncio.sleep(0.1)  # idle: the timers fire on time
        idle_count, idle_total, idle_quick = lag_samples()
        time.sleep(0.2)  # noqa: ASYNC251 - blocking work on purpose: the pending timer fires 200 ms late
        await asyncio.sleep(0.05)
    finally:
        measuring.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await measuring
    held_count, held_total, held_quick = lag_samples()
    assert idle_count - count >= 3 and idle_quick - quick >= (idle_count - count) / 2
    assert held_total - idle_total >= 0.18, "the 200 ms the loop was held is measured"
    assert held_count - idle_count > held_quick - idle_quick, "at least one observation was slow"
