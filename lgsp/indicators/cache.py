"""A cache for what anyone may ask for without a key: short-lived, bounded, and computed once at a time.

Public answers (the indicators, the dashboard) must not turn each request into database work: a burst of
readers, or one reader asking for a new period each time, would otherwise cost the database as many
computations as there are requests. This cache is in the memory of one hub process: with several
processes, each computes its own answers (a few a second at most, whatever the traffic).
"""

import asyncio
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    computed_at: float  # event-loop time when its computation started


class SharedCache(Generic[K, V]):
    """Answers per key, each at most `max_age` seconds old, for every caller alike.

    - **Fresh enough, never stale.** An answer younger than `max_age` is served as it is; once it is half
      that old, the next read still gets it and starts one refresh in the background, so under steady
      traffic nobody waits for the database. A read finding no answer younger than `max_age` waits for one.
    - **Single flight.** However many reads miss the same key together, one computation runs and they all
      get its answer; a reader that gives up (a closed connection) does not cancel it for the others.
    - **Bounded.** At most `max_entries` keys are kept, the least recently read dropped first, so keys
      nobody reads again (a reader cycling through periods) cannot push out the ones everybody reads; and
      at most `max_concurrent` computations run at once, so public reads cannot take every database
      connection the hub's own work needs (the others queue).
    """

    def __init__(
        self,
        compute: Callable[[K], Awaitable[V]],
        *,
        max_age: float,
        max_entries: int,
        max_concurrent: int = 2,
    ) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self._compute_value = compute
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._computing: dict[K, asyncio.Task[_Entry[V]]] = {}
        self._slots = asyncio.Semaphore(max_concurrent)

    def __len__(self) -> int:
        """How many keys have an answer kept."""
        return len(self._entries)

    async def get(self, key: K) -> V:
        """The answer for `key`, at most `max_age` seconds old."""
        now = asyncio.get_running_loop().time()
        entry = self._entries.get(key)
        if entry is not None and now - entry.computed_at < self.max_age:
            self._entries.move_to_end(key)  # read recently: the last to be dropped
            if now - entry.computed_at >= self.max_age / 2:
                self._refresh(key)
            return entry.value
        # Shielded: a request cancelled while waiting must not cancel the computation others wait for.
        return (await asyncio.shield(self._refresh(key))).value

    def _refresh(self, key: K) -> "asyncio.Task[_Entry[V]]":
        task = self._computing.get(key)
        if task is None:
            task = self._computing[key] = asyncio.create_task(self._compute(key))
            task.add_done_callback(functools.partial(self._computed, key))
        return task

    async def _compute(self, key: K) -> _Entry[V]:
        async with self._slots:
            started = asyncio.get_running_loop().time()  # its age counts from now, not from the queue
            value = await self._compute_value(key)
        return _Entry(value, started)

    def _computed(self, key: K, task: "asyncio.Task[_Entry[V]]") -> None:
        self._computing.pop(key, None)
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            log.debug("public answer not refreshed: %s", error)  # the requests that waited raise it
            return
        entry = task.result()
        current = self._entries.get(key)
        if current is not None and entry.computed_at < current.computed_at:
            return  # a newer answer arrived first
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
