"""lgsp_exchanges_total{outcome} stays bounded: a fault code from outside (an NGSP answer) that is not
one of the stable codes counts as "other", never as a label value of its own."""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from lgsp.exchange.admission import Admission
from lgsp.exchange.models import FAULT_CODES, OTHER_FAULT, Outcome, outcome_label
from lgsp.exchange.router import FAULT_STATUS
from lgsp.exchange.service import RECHECK_AGE, ExchangeRouter
from schemas.common import utcnow
from schemas.messages import Fault, NgspServiceResult, ServiceRequest
from tests.support import Broker, Hub, eventually, make_agency, make_system
from tests.support.exchange import records
from tests.support.signing import ngsp_signer_of


def test_stable_codes_keep_their_label_and_others_become_other() -> None:
    assert outcome_label(None) == "success"
    for code in FAULT_CODES:
        assert outcome_label(code) == code
    for code in (
        "ngsp.quota_exceeded",
        "server.timeout ",
        "SERVER.TIMEOUT",
        "",
        "x" * 64,
        "client.no_answer",
    ):
        assert outcome_label(code) == OTHER_FAULT


def test_the_stable_codes_are_those_the_facade_answers() -> None:
    """The stable codes (docs/architecture/design.md section 4), listed twice in the code base: the same."""
    assert set(FAULT_STATUS) == FAULT_CODES


def exchange_counts(exposition: str) -> dict[str, float]:
    """lgsp_exchanges_total by outcome, from a /metrics answer."""
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "lgsp_exchanges"
        for sample in family.samples
        if sample.name == "lgsp_exchanges_total"
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # metrics do not depend on the database
async def test_an_unknown_ngsp_fault_code_is_counted_as_other(hub: Hub, broker: Broker) -> None:
    await make_agency(hub.client, "VP-UBND")
    await make_agency(hub.client, "SO-TP")
    await make_system(hub.client, "MOT-CUA", "VP-UBND")
    # Beyond the province, the hub forwards only what an admin granted (lgsp.catalogue.national).
    beyond = {"client_system": "MOT-CUA", "provider": "VN/DAN-CU", "service": "citizen.get"}
    assert (await hub.client.post("/api/v1/national-grants", json=beyond)).status_code == 201
    await asyncio.sleep(RECHECK_AGE * 2)  # a directory cached before the grant is read again by then
    router: ExchangeRouter = hub.app.state.runtime.facade.router
    before = exchange_counts((await hub.client.get("/metrics")).text)

    # Two exchanges beyond the province, pending at the hub (no NGSP stub runs here to answer them)...
    weird = f"ngsp.fault-{uuid.uuid4().hex}"  # a new code each time: unbounded if it became a label
    answers = {"server.timeout": uuid.uuid4(), weird: uuid.uuid4()}
    for exchange_id in answers.values():
        request = ServiceRequest(
            message_id=exchange_id,
            client="MOT-CUA",
            session_id=uuid.uuid4(),
            provider="VN/DAN-CU",
            service="citizen.get",
            payload={"citizen_id": "079203001234"},
            timeout_ms=60_000,
        )
        await router.admit([Admission(request, utcnow(), 100)])  # as the REST façade admits
    # ... answered with faults on the NGSP's results topic, over the real broker, signed by the NGSP.
    ngsp = ngsp_signer_of(hub.settings)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for code, exchange_id in answers.items():
            result = NgspServiceResult(
                exchange_id=exchange_id,
                client="MOT-CUA",
                provider="VN/DAN-CU",
                fault=Fault(code=code, message="the NGSP says no"),
            )
            await producer.send_and_wait(router.topics.ngsp_results, ngsp.seal(result), key=b"MOT-CUA")
    finally:
        await producer.stop()

    async def settled() -> bool:
        mine = [r for r in await records(hub.settings) if uuid.UUID(r.id) in answers.values()]
        return len(mine) == 2 and all(r.outcome == Outcome.FAULT for r in mine)

    await eventually(settled, timeout=15, what="both exchanges to be settled by the NGSP's answers")
    # The record keeps the NGSP's own code (it is data); only the metric label is bounded.
    kept = {r.fault_code for r in await records(hub.settings) if uuid.UUID(r.id) in answers.values()}
    assert kept == {"server.timeout", weird}

    exposition = (await hub.client.get("/metrics")).text
    after = exchange_counts(exposition)
    assert weird not in exposition
    assert after.get(OTHER_FAULT, 0) == before.get(OTHER_FAULT, 0) + 1
    assert after.get("server.timeout", 0) == before.get("server.timeout", 0) + 1
    assert set(after) <= FAULT_CODES | {"success", OTHER_FAULT}
