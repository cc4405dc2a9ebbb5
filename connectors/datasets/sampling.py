"""Seeded random helpers shared by every generator: weighted picks, unique serials and date arithmetic."""

import bisect
import calendar
import itertools
import random
from collections.abc import Hashable, Iterable
from datetime import date, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")

ONE_DAY = timedelta(days=1)


class Weighted(Generic[T]):
    """A fixed set of items picked with given relative weights.

    `random.choices` rebuilds its cumulative table on every call unless given one; keeping it here makes
    a single pick one `random()` and one bisect, which matters at millions of picks.
    """

    __slots__ = ("_cumulative", "_items", "_last", "_total")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        pairs = list(pairs)
        if not pairs:
            raise ValueError("Weighted needs at least one item")
        self._items = tuple(item for item, _ in pairs)
        self._cumulative = tuple(itertools.accumulate(weight for _, weight in pairs))
        self._total = self._cumulative[-1]
        self._last = len(self._items) - 1

    @property
    def items(self) -> tuple[T, ...]:
        """Every item that can be picked, in declaration order."""
        return self._items

    def pick(self, rng: random.Random) -> T:
        """One item, drawn with its weight."""
        # hi=_last guards the (rare) float rounding of random() * total up to total itself.
        return self._items[bisect.bisect(self._cumulative, rng.random() * self._total, 0, self._last)]


class SerialPool:
    """Unique, random-looking serial numbers below `space`, one independent sequence per key.

    The n-th serial of a key is `(n * multiplier + offset) % space`: a bijection on [0, space) because
    the multiplier is coprime with every power of ten, so serials never repeat within a key and no set
    of issued numbers has to be kept in memory, however many millions are issued.
    """

    _MULTIPLIER = 7_368_787  # prime, so coprime with 10**k

    def __init__(self, rng: random.Random, space: int) -> None:
        self._rng = rng
        self._space = space
        self._issued: dict[Hashable, int] = {}
        self._offsets: dict[Hashable, int] = {}

    def next(self, key: Hashable = None) -> int:
        """The next serial of `key`; raises once the key's space is exhausted."""
        issued = self._issued.get(key, 0)
        if issued >= self._space:
            raise ValueError(f"serial space of {self._space} exhausted for {key!r}")
        offset = self._offsets.get(key)
        if offset is None:
            # Drawn when a key is first seen: keys appear in a seeded order, so this stays deterministic.
            offset = self._offsets[key] = self._rng.randrange(self._space)
        self._issued[key] = issued + 1
        return (issued * self._MULTIPLIER + offset) % self._space


class Counters:
    """Plain running numbers per key, for register entries numbered in order ("12/2019")."""

    def __init__(self) -> None:
        self._counts: dict[Hashable, int] = {}

    def next(self, key: Hashable) -> int:
        """1 for a key's first entry, then 2, 3..."""
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        return count


def random_date(rng: random.Random, earliest: date, latest: date) -> date:
    """A uniformly drawn day in [earliest, latest]; `earliest` if the range is empty."""
    first = earliest.toordinal()
    return date.fromordinal(first + rng.randrange(max(latest.toordinal() - first, 0) + 1))


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the end of shorter months."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    if day.day <= 28:  # every month has these days; the fast path for hundreds of thousands of calls
        return date(year, month, day.day)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(day: date, years: int) -> date:
    """The same day `years` later (or earlier); 29 February becomes 28 February in common years."""
    return add_months(day, 12 * years)


def age_on(birth: date, day: date) -> int:
    """Completed years of age on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
