"""Generate every mock provincial store from one seed: the population first, then what derives from it."""

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TypeVar

from connectors.datasets.business import BusinessGenerator, BusinessStore
from connectors.datasets.civil_status import CivilStatusGenerator, CivilStatusStore
from connectors.datasets.documents import MIN_DOCUMENTS, DocumentGenerator, DocumentStore
from connectors.datasets.land import LandGenerator, LandStore
from connectors.datasets.population import Household, PopulationGenerator, PopulationStore, read_households
from connectors.datasets.social_insurance import SocialInsuranceGenerator, SocialInsuranceStore
from connectors.datasets.sqlite import Batch, BatchWriter, SqliteStore

Progress = Callable[[str, int, int], None]
"""Called as (dataset, citizens done, citizens in all) as each batch of a store is written."""

S = TypeVar("S", bound=SqliteStore)

STORES: tuple[type[SqliteStore], ...] = (
    PopulationStore,
    CivilStatusStore,
    LandStore,
    BusinessStore,
    SocialInsuranceStore,
    DocumentStore,
)
# A fixed reference date ("today" in the data) keeps output identical whenever it is generated.
DEFAULT_AS_OF = date(2026, 7, 1)
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Profile:
    """How much of each register the population yields (the number of citizens is set separately)."""

    confirmation_share: float = 0.05  # adults with a marital-status confirmation from the last two years
    land_holding_share: float = 0.6  # households whose head holds a land-use-right certificate
    business_owner_share: float = 0.06  # adults who have registered a business
    insured_share: float = 0.93  # people with a health-insurance card (national coverage is about 93%)
    documents_per_citizen: float = 0.05  # official documents in the QLVB register, never fewer than 300


@dataclass(frozen=True, slots=True)
class Datasets:
    """A generated set of stores in one directory, with what it was generated from and its row counts."""

    directory: Path
    seed: int
    citizens: int
    as_of: date
    counts: dict[str, int]  # rows per table

    def path(self, store: type[SqliteStore]) -> Path:
        """The file of one store."""
        return self.directory / store.file_name()

    async def open(self, store: type[S]) -> S:
        """Open one store read-only, e.g. `await datasets.open(LandStore)`."""
        return await store.open(self.path(store))

    @classmethod
    def load(cls, directory: Path) -> "Datasets":
        """The datasets generated earlier into `directory`, from its manifest."""
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return cls(
            directory,
            manifest["seed"],
            manifest["citizens"],
            date.fromisoformat(manifest["as_of"]),
            manifest["counts"],
        )

    def save(self) -> None:
        """Write the manifest that `load` reads."""
        manifest: dict[str, Any] = {
            "seed": self.seed,
            "citizens": self.citizens,
            "as_of": self.as_of.isoformat(),
            "counts": self.counts,
        }
        (self.directory / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )


class _RecordSource(Protocol):
    def rows(self, households: Sequence[Household]) -> Batch: ...


async def generate_all(
    directory: Path,
    *,
    citizens: int,
    seed: int,
    profile: Profile = Profile(),
    as_of: date = DEFAULT_AS_OF,
    batch_size: int = 10_000,
    progress: Progress | None = None,
) -> Datasets:
    """Generate every store into `directory` (replacing earlier ones) and return where they are.

    The same arguments always give the same rows. Memory stays bounded by `batch_size`: the population
    is written batch by batch, then read back household by household to derive the other stores
    together, so millions of citizens fit as well as thousands. `progress` sees the population finish
    first, then the derived stores advance together.
    """
    if citizens < 1:
        raise ValueError("citizens must be at least 1")
    report = progress or _ignore
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    population = PopulationGenerator(_rng(seed, PopulationStore), as_of)
    batches = _aiter(population.batches(citizens, batch_size))
    counts = await _build(directory, {PopulationStore: population}, batches, citizens, report)
    # One read of the stored population feeds every derived store.
    derived: dict[type[SqliteStore], _RecordSource] = {
        CivilStatusStore: CivilStatusGenerator(
            _rng(seed, CivilStatusStore), as_of, confirmation_share=profile.confirmation_share
        ),
        LandStore: LandGenerator(_rng(seed, LandStore), as_of, holding_share=profile.land_holding_share),
        BusinessStore: BusinessGenerator(
            _rng(seed, BusinessStore), as_of, owner_share=profile.business_owner_share
        ),
        SocialInsuranceStore: SocialInsuranceGenerator(
            _rng(seed, SocialInsuranceStore), as_of, insured_share=profile.insured_share
        ),
        DocumentStore: DocumentGenerator(
            _rng(seed, DocumentStore),
            as_of,
            citizens=citizens,
            documents=max(MIN_DOCUMENTS, round(citizens * profile.documents_per_citizen)),
        ),
    }
    households = read_households(directory / PopulationStore.file_name(), batch_size)
    counts |= await _build(directory, derived, households, citizens, report)
    datasets = Datasets(directory, seed, citizens, as_of, counts)
    await asyncio.to_thread(datasets.save)
    return datasets


async def _build(
    directory: Path,
    sources: dict[type[SqliteStore], _RecordSource],
    batches: AsyncIterator[Sequence[Household]],
    citizens: int,
    report: Progress,
) -> dict[str, int]:
    """Write stores side by side from one stream of household batches; returns row counts per table."""
    for store in sources:
        report(store.DATASET, 0, citizens)
    async with contextlib.AsyncExitStack() as stack:
        writers = [
            (
                await stack.enter_async_context(BatchWriter(directory / store.file_name(), store.TABLES)),
                source,
            )
            for store, source in sources.items()
        ]
        done = 0
        async for households in batches:
            # Rows are generated here in a fixed order; the inserts then run on the writers' own threads.
            batch = [(writer, source.rows(households)) for writer, source in writers]
            await asyncio.gather(*(writer.write(rows) for writer, rows in batch))
            done += sum(len(household.members) for household in households)
            for store in sources:
                report(store.DATASET, done, citizens)
    return {table: count for writer, _ in writers for table, count in writer.counts.items()}


def _rng(seed: int, store: type[SqliteStore]) -> random.Random:
    # One independent stream per store: changing how one store is derived leaves the others as they were.
    return random.Random(f"{seed}:{store.DATASET}")


async def _aiter(batches: Iterable[list[Household]]) -> AsyncIterator[list[Household]]:
    for batch in batches:
        yield batch


def _ignore(dataset: str, done: int, total: int) -> None:
    """The progress callback used when none is given."""
