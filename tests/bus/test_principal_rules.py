"""The Kafka identity model, without a cluster: the password a system derives from its key, the ACLs of
each kind of principal, the names no system may take, and the settings that turn principals on. The
broker's enforcement of these ACLs is tested in tests/kafka/test_principals.py."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from buscore.principals import SCRAM_MECHANISM, kafka_password, kafka_username, sasl_options
from lgsp.bus.client import shared_topics
from lgsp.bus.principals import (
    ALTER,
    BROKER,
    CLUSTER,
    CREATE,
    DESCRIBE,
    GROUP,
    LITERAL,
    PREFIXED,
    READ,
    TOPIC,
    WRITE,
    Principals,
    Rule,
    admin_config,
    hub_rules,
    ngsp_rules,
    system_rules,
)
from lgsp.errors import BadRequest
from lgsp.settings import Settings
from schemas.topics import Topics

TOPICS = Topics("lgsp")
CLUSTER_ADDRESS = "kafka-1.tinh.gov.vn:9093"


def hub_settings(**values: object) -> Settings:
    """Settings of a hub that manages principals on a SASL cluster."""
    defaults: dict[str, object] = {
        "kafka_bootstrap": CLUSTER_ADDRESS,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_plain_username": "lgsp.hub",
        "kafka_sasl_plain_password": "hub-secret",
        "kafka_principals": True,
    }
    return Settings(**(defaults | values))  # type: ignore[arg-type]


# --- the password ---------------------------------------------------------------------------------------


def test_the_password_is_a_fixed_derivation_of_the_key() -> None:
    """Pinned to a vector computed with openssl (HMAC-SHA256 of the label under the key, base64url):
    the SDK and every hub version must derive the same password from the same key."""
    assert kafka_password("lgsp_0123456789ab_secret") == "9B0BS2o1I6k7YnLboiYJPBLV2ATE3wSPzoOwSyQntLQ"


def test_each_key_has_its_own_password_which_does_not_contain_it() -> None:
    first, second = kafka_password("lgsp_aaaaaaaaaaaa_one"), kafka_password("lgsp_aaaaaaaaaaaa_two")
    assert first != second
    assert len(first) == 43 and "one" not in first


def test_no_password_without_a_key() -> None:
    with pytest.raises(ValueError):
        kafka_password("")


def test_the_sdk_gets_the_sasl_options_of_its_system() -> None:
    assert sasl_options("HO-TICH", "lgsp_0123456789ab_secret") == {
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": "HO-TICH",
        "sasl_plain_password": "9B0BS2o1I6k7YnLboiYJPBLV2ATE3wSPzoOwSyQntLQ",
    }
    assert kafka_username("HO-TICH") == "HO-TICH"


# --- the ACLs -------------------------------------------------------------------------------------------


def test_a_system_writes_the_shared_topics_and_reads_only_its_inbox_in_its_group() -> None:
    sends = [
        "lgsp.requests",
        "lgsp.responses",
        "lgsp.connectivity",
        "lgsp.dossiers",
        "lgsp.ngsp.probe-replies",
        "lgsp.dead-letters",  # what its connector refused
    ]
    assert system_rules(TOPICS, "HO-TICH") == {
        *(Rule(TOPIC, topic, LITERAL, op) for topic in sends for op in (WRITE, DESCRIBE)),
        Rule(TOPIC, "lgsp.inbox.HO-TICH", LITERAL, READ),
        Rule(TOPIC, "lgsp.inbox.HO-TICH", LITERAL, DESCRIBE),
        Rule(GROUP, "lgsp.connector.HO-TICH", LITERAL, READ),
    }


def test_a_systems_rules_name_no_other_system() -> None:
    """Literal names only: a prefixed pattern for `HO` would also match the inbox of `HO-TICH`."""
    ho, ho_tich = system_rules(TOPICS, "HO"), system_rules(TOPICS, "HO-TICH")
    assert all(rule.pattern == LITERAL for rule in ho)
    private = {rule.name for rule in ho if rule.operation == READ}
    assert private == {"lgsp.inbox.HO", "lgsp.connector.HO"}
    assert not private & {rule.name for rule in ho_tich}


def test_the_hub_has_the_installation_and_manages_principals_only_when_asked() -> None:
    installation = {
        *(Rule(TOPIC, "lgsp.", PREFIXED, op) for op in (READ, WRITE, CREATE, DESCRIBE)),
        *(Rule(GROUP, "lgsp.", PREFIXED, op) for op in (READ, DESCRIBE)),
    }
    assert hub_rules(TOPICS, manage_principals=False) == installation
    assert hub_rules(TOPICS) == installation | {
        Rule(BROKER, CLUSTER, LITERAL, ALTER),
        Rule(BROKER, CLUSTER, LITERAL, DESCRIBE),
    }


def test_the_ngsp_reads_its_requests_and_writes_its_answers_and_probes_only() -> None:
    rules = ngsp_rules(TOPICS)
    reads = {r.name for r in rules if r.operation == READ and r.resource == TOPIC}
    writes = {(r.name, r.pattern) for r in rules if r.operation == WRITE}
    assert reads == {"lgsp.ngsp.requests", "lgsp.ngsp.probe-replies"}
    assert writes == {
        ("lgsp.ngsp.events", LITERAL),
        ("lgsp.ngsp.results", LITERAL),
        ("lgsp.dead-letters", LITERAL),
        ("lgsp.inbox.", PREFIXED),
    }
    assert {r.name for r in rules if r.resource == GROUP} == {"lgsp.ngsp."}
    assert not [r for r in rules if r.resource == BROKER]


# --- names no system may take ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["lgsp.hub", "lgsp.admin", "x", "HO TICH", "*"])
async def test_a_name_no_system_code_can_have_is_refused(code: str) -> None:
    principals = Principals(hub_settings(), CLUSTER_ADDRESS)  # nothing is sent: refused before
    with pytest.raises(BadRequest):
        await principals.grant_system(code, "lgsp_0123456789ab_secret")
    with pytest.raises(BadRequest):
        await principals.retire_system(code)


async def test_the_hubs_own_user_name_is_refused_to_systems() -> None:
    """A cluster whose hub user looks like a system code: registering that code must not take it over."""
    principals = Principals(
        hub_settings(kafka_sasl_plain_username="HUB-USER"), CLUSTER_ADDRESS, reserved=["NGSP-USER"]
    )
    for code in ("HUB-USER", "NGSP-USER"):
        with pytest.raises(BadRequest):
            await principals.grant_system(code, "lgsp_0123456789ab_secret")


async def test_platform_principals_must_not_look_like_system_codes() -> None:
    principals = Principals(hub_settings(), CLUSTER_ADDRESS)
    with pytest.raises(ValueError, match="could be a system's code"):
        await principals.grant_hub("LGSP-HUB")
    with pytest.raises(ValueError, match="could be a system's code"):
        await principals.grant_ngsp("NGSP")


# --- settings -------------------------------------------------------------------------------------------


def test_the_admin_client_authenticates_as_the_hub(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    config = admin_config(hub_settings(kafka_ssl_cafile=ca), CLUSTER_ADDRESS)
    assert config == {
        "bootstrap.servers": CLUSTER_ADDRESS,
        "client.id": "lgsp-principals",
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "lgsp.hub",
        "sasl.password": "hub-secret",
        "ssl.ca.location": str(ca),
    }
    assert admin_config(hub_settings(), CLUSTER_ADDRESS)["ssl.ca.location"] == "probe"  # the system's CAs


def test_principals_are_off_by_default() -> None:
    assert Settings().kafka_principals is False


@pytest.mark.parametrize(
    "values",
    [
        {"kafka_principals": True},  # the embedded broker
        {"kafka_principals": True, "kafka_bootstrap": CLUSTER_ADDRESS},  # PLAINTEXT: the hub is anonymous
    ],
)
def test_principals_need_an_authenticated_hub_on_a_cluster(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="kafka_principals needs"):
        Settings(**values)  # type: ignore[arg-type]


def test_the_ngsp_may_create_exactly_the_topics_it_ensures_at_start() -> None:
    creates = {rule.name for rule in ngsp_rules(TOPICS) if rule.operation == CREATE}
    assert creates == set(shared_topics(TOPICS, 1))
