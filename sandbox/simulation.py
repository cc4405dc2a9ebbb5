"""The once-only simulation: citizens and businesses filing dossiers while holder systems fail.

A seeded plan spreads dossiers over a simulated year. Applicants come back for related procedures (the
catalogue's `follows` chains), so documents accepted once can be reused later. Every `epoch` dossiers
each provincial holder system is taken down with probability `fault_rate` (and brought back when it is
not), so lookups fail and applicants must hand in copies the state already holds. The one-stop shop
files every dossier over the real axis; the indicators are the hub's, read back over its API.
"""

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from connectors.datasets import DEFAULT_AS_OF, BusinessStore, Datasets, PopulationStore, SqliteStore
from connectors.evidence import EvidenceHolder, evidence_stores
from connectors.onestop import Filing, MissingDocument, OneStopShop
from connectors.sdk import Connector
from schemas.common import split_address
from schemas.onceonly import Catalogue, Document, EvidenceQuery, SubjectKind, content_hash, load_catalogue

#: Share of dossiers that continue an applicant's chain of related procedures when one is open.
FOLLOW_UP_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class SimulationOptions:
    """What to simulate: how many applicants and dossiers, how fast, how faulty, from which seed."""

    applicants: int = 200
    dossiers: int = 400
    rate: float = 50.0  # dossiers started per second of real time
    fault_rate: float = 0.2  # chance that a holder is down in any epoch
    epoch: int = 25  # dossiers between two fault draws
    days: int = 365  # the simulated period the dossiers are spread over
    seed: int = 7
    start: date = DEFAULT_AS_OF
    lookup_timeout: float = 2.0  # seconds the one-stop shop waits for a holder before "unreachable"


@dataclass(frozen=True, slots=True)
class PlannedDossier:
    """One dossier of the plan."""

    index: int
    procedure: str
    applicant: str
    day: date


@dataclass
class SimulationResult:
    """What the simulation itself saw: dossiers filed or refused, and holder outages."""

    filed: int = 0
    refused: int = 0  # a required document neither held by the axis nor brought
    outages: int = 0
    reports: list[str] = field(default_factory=list)


def plan(
    catalogue: Catalogue, citizens: Sequence[str], businesses: Sequence[str], options: SimulationOptions
) -> list[PlannedDossier]:
    """The seeded sequence of dossiers: who files what, on which simulated day."""
    rng = random.Random(options.seed)
    by_kind = {
        SubjectKind.CITIZEN: [p for p in catalogue.procedures.values() if p.applicant is SubjectKind.CITIZEN],
        SubjectKind.BUSINESS: [
            p for p in catalogue.procedures.values() if p.applicant is SubjectKind.BUSINESS
        ],
    }
    pool = {SubjectKind.CITIZEN: list(citizens), SubjectKind.BUSINESS: list(businesses)}
    followers: dict[str, list[str]] = defaultdict(list)
    for procedure in catalogue.procedures.values():
        for earlier in procedure.follows:
            followers[earlier].append(procedure.code)
    open_chains: dict[str, list[str]] = {}  # applicant -> procedures they may file next
    dossiers: list[PlannedDossier] = []
    for index in range(options.dossiers):
        day = options.start + timedelta(days=index * options.days // max(1, options.dossiers))
        if open_chains and rng.random() < FOLLOW_UP_SHARE:
            applicant = rng.choice(sorted(open_chains))
            code = rng.choice(open_chains.pop(applicant))
        else:
            kind = (
                SubjectKind.BUSINESS
                if pool[SubjectKind.BUSINESS] and rng.random() < 0.1
                else SubjectKind.CITIZEN
            )
            choices = by_kind[kind]
            code = rng.choices([p.code for p in choices], weights=[p.weight for p in choices])[0]
            applicant = rng.choice(pool[kind])
        if followers.get(code):
            open_chains[applicant] = list(followers[code])
        dossiers.append(PlannedDossier(index, code, applicant, day))
    return dossiers


class Simulation:
    """Runs a plan through a one-stop shop, taking holder connectors down and up as it goes."""

    def __init__(
        self,
        shop: OneStopShop,
        holders: dict[str, Connector],
        papers: dict[str, EvidenceHolder],
        options: SimulationOptions,
        wait_connected: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.shop = shop
        self.catalogue = shop.catalogue
        self.holders = holders
        self.papers = papers
        self.options = options
        self.wait_connected = wait_connected
        self.rng = random.Random(options.seed + 1)
        self.wallets: dict[str, dict[str, Document]] = defaultdict(dict)  # applicant -> type -> copy
        self.result = SimulationResult()
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def run(
        self, dossiers: Sequence[PlannedDossier], progress: Callable[[int], None] | None = None
    ) -> None:
        """File every planned dossier at the configured rate; one applicant's dossiers in plan order."""
        tasks: list[asyncio.Task[None]] = []
        for dossier in dossiers:
            if dossier.index % self.options.epoch == 0:
                await asyncio.gather(*tasks)  # outages change between epochs, never under a dossier
                tasks.clear()
                await self._draw_faults()
            tasks.append(asyncio.create_task(self._file(dossier, progress)))
            await asyncio.sleep(1 / self.options.rate)
        await asyncio.gather(*tasks)
        await self._draw_faults(clear=True)

    async def _file(self, dossier: PlannedDossier, progress: Callable[[int], None] | None) -> None:
        # Tasks start in creation order and the lock queues its waiters first come, first served, so one
        # applicant's dossiers are filed in plan order while other applicants' go ahead.
        async with self._locks[dossier.applicant]:
            await self._file_now(dossier)
        if progress is not None:
            progress(1)

    async def _file_now(self, dossier: PlannedDossier) -> None:
        requires = self.catalogue.procedure(dossier.procedure).requires
        brought = {t: await self._copy(t, dossier) for t in requires}
        filing = Filing(
            dossier.procedure, dossier.applicant, dossier.day, brought, issued_to=self._issued_to(dossier)
        )
        try:
            report = await self.shop.file(filing)
        except MissingDocument:
            self.result.refused += 1
            return
        self.result.filed += 1
        for output in report.outputs:
            self.wallets[output.subject][output.document_type] = output

    def _issued_to(self, dossier: PlannedDossier) -> dict[str, str]:
        """A business registered by a citizen gets its own tax code (derived from the dossier)."""
        issued: dict[str, str] = {}
        for code in self.catalogue.procedure(dossier.procedure).produces:
            if (
                self.catalogue.document_type(code).subject is SubjectKind.BUSINESS
                and len(dossier.applicant) == 12
            ):
                serial = random.Random(self.options.seed * 1_000_003 + dossier.index).randrange(10**10)
                issued[code] = f"{serial:010d}"
        return issued

    async def _copy(self, document_type: str, dossier: PlannedDossier) -> Document:
        """The applicant's own copy: one issued to them earlier (in the data or by a dossier), still
        valid; otherwise a new one they obtained for this dossier."""
        wallet = self.wallets[dossier.applicant]
        copy = wallet.get(document_type)
        if copy is None:
            holder = self.catalogue.document_type(document_type).holder
            papers = self.papers.get(holder)
            if papers is not None:
                answer = await papers.get(
                    EvidenceQuery(document_type=document_type, subject=dossier.applicant, on=dossier.day)
                )
                copy = answer.document
        if copy is None or not copy.valid_on(dossier.day):
            days = self.catalogue.document_type(document_type).validity_days
            issued = dossier.day - timedelta(days=self.rng.randint(1, 20))
            copy = Document(
                document_type=document_type,
                subject=dossier.applicant,
                issued_on=issued,
                valid_until=issued + timedelta(days=days - 1) if days else None,
                content_hash=content_hash(
                    document_type, dossier.applicant, {"obtained": issued.isoformat(), "for": dossier.index}
                ),
            )
        wallet[document_type] = copy
        return copy

    async def _draw_faults(self, *, clear: bool = False) -> None:
        for code, connector in sorted(self.holders.items()):
            down = not clear and self.rng.random() < self.options.fault_rate
            if down and connector.running:
                await connector.stop()
                self.result.outages += 1
            elif not down and not connector.running:
                await connector.start()
                if self.wait_connected is not None:
                    await self.wait_connected(code)


async def sample_applicants(datasets: Datasets, options: SimulationOptions) -> tuple[list[str], list[str]]:
    """Citizens and businesses of the datasets to act as applicants (the same ones for a seed)."""
    async with await datasets.open(PopulationStore) as people, await datasets.open(BusinessStore) as firms:
        citizens = await people.sample_citizens(min(options.applicants, datasets.citizens), options.seed)
        businesses = await firms.sample_tax_codes(max(1, options.applicants // 10), options.seed)
    return citizens, businesses


async def open_papers(
    datasets: Datasets, catalogue: Catalogue
) -> tuple[dict[str, EvidenceHolder], list[SqliteStore]]:
    """What applicants hold on paper: every holder's dataset documents, read without the bus."""
    papers: dict[str, EvidenceHolder] = {}
    stores: list[SqliteStore] = []
    for holder in sorted(catalogue.holders()):
        needed = evidence_stores(holder, catalogue)
        opened = [await datasets.open(store) for store in needed]
        stores.extend(opened)
        papers[holder] = EvidenceHolder(holder, catalogue, opened, as_of=datasets.as_of)
    return papers, stores


def provincial(holders: frozenset[str]) -> list[str]:
    """The holder systems of this province (the ones a simulation may take down)."""
    return sorted(h for h in holders if split_address(h)[0] is None)


@dataclass
class Prepared:
    """A simulation ready to run over a fleet, with the stores it opened."""

    simulation: Simulation
    dossiers: list[PlannedDossier]
    stores: list[SqliteStore]

    async def close(self) -> None:
        """Close the stores the applicants' papers are read from."""
        for store in self.stores:
            await store.close()


async def prepare(
    connectors: Mapping[str, Connector],
    datasets: Datasets,
    options: SimulationOptions,
    *,
    control_holders: bool = True,
    wait_connected: Callable[[str], Awaitable[None]] | None = None,
    catalogue: Catalogue | None = None,
) -> Prepared:
    """A seeded plan and a simulation filing it through the fleet's one-stop shop (MOT-CUA).

    With `control_holders` the simulation takes the provincial holder systems down and up itself.
    """
    catalogue = catalogue or load_catalogue()
    citizens, businesses = await sample_applicants(datasets, options)
    papers, stores = await open_papers(datasets, catalogue)
    holders = (
        {code: connectors[code] for code in provincial(catalogue.holders()) if code in connectors}
        if control_holders
        else {}
    )
    shop = OneStopShop(connectors["MOT-CUA"], catalogue, lookup_timeout=options.lookup_timeout)
    simulation = Simulation(shop, holders, papers, options, wait_connected)
    return Prepared(simulation, plan(catalogue, citizens, businesses, options), stores)
