"""Kafka security settings (SASL, TLS) reach every aiokafka client the hub, the NGSP stub and the
connectors it starts create, from the one place that builds them: `Settings.kafka_options()`."""

import ast
import shutil
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr, ValidationError

from buscore.principals import kafka_password
from buscore.signing import HUB, Signer, Trust
from lgsp.bus import Bus, Delivery, Rejection
from lgsp.settings import Settings
from sandbox.demo import tuned_connector

SIGNER = Signer.platform(HUB, bytes(32))
TRUST = Trust.of(SIGNER).anchor()


async def refuse_all(deliveries: Sequence[Delivery[Any]]) -> tuple[list[Delivery[Any]], list[Rejection]]:
    """An authenticator for a bus that never consumes here."""
    return [], []


ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "kafka-1.tinh.gov.vn:9093"
CLIENT_CLASSES = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed CA certificate with its key, plainly and encrypted with password `s3cret`."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test certificates")
    where = tmp_path_factory.mktemp("pki")
    files = {name: where / f"{name}.pem" for name in ("cert", "key", "key_encrypted")}
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-days", "2", "-subj", "/CN=lgsp-test-ca"),
            *("-keyout", str(files["key"]), "-out", str(files["cert"])),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *("openssl", "pkey", "-in", str(files["key"]), "-aes256", "-passout", "pass:s3cret"),
            *("-out", str(files["key_encrypted"])),
        ],
        check=True,
        capture_output=True,
    )
    return files


def secure(**values: Any) -> Settings:
    """Settings on an external cluster, with `values` for the security options."""
    return Settings(kafka_bootstrap=CLUSTER, **values)


SASL_SCRAM = {
    "kafka_security_protocol": "SASL_PLAINTEXT",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_plain_username": "lgsp-hub",
    "kafka_sasl_plain_password": SecretStr("mat-khau-bi-mat"),
}

# --- the options themselves ---------------------------------------------------------------------------


def test_plaintext_by_default() -> None:
    assert Settings().kafka_options() == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_plaintext_passes_mechanism_and_credentials(mechanism: str) -> None:
    options = secure(**SASL_SCRAM | {"kafka_sasl_mechanism": mechanism}).kafka_options()
    assert options == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "lgsp-hub",
        "sasl_plain_password": "mat-khau-bi-mat",
    }


def test_the_sasl_password_is_a_secret_in_settings() -> None:
    settings = secure(**SASL_SCRAM)
    assert "mat-khau-bi-mat" not in repr(settings)
    assert "mat-khau-bi-mat" not in settings.model_dump_json()


def test_ssl_without_files_verifies_against_the_system_cas() -> None:
    options = secure(kafka_security_protocol="SSL").kafka_options()
    assert set(options) == {"security_protocol", "ssl_context"}
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_sasl_ssl_with_ca_and_client_certificate(pki: dict[str, Path]) -> None:
    options = secure(
        **SASL_SCRAM | {"kafka_security_protocol": "SASL_SSL"},
        kafka_ssl_cafile=pki["cert"],
        kafka_ssl_certfile=pki["cert"],
        kafka_ssl_keyfile=pki["key_encrypted"],
        kafka_ssl_key_password=SecretStr("s3cret"),
    ).kafka_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    # The CA file is the one trusted (the client certificate's loading raised nothing: the password fit).
    subjects = [ca["subject"] for ca in context.get_ca_certs()]
    assert subjects == [((("commonName", "lgsp-test-ca"),),)]


def test_a_wrong_key_password_fails_when_the_options_are_built(pki: dict[str, Path]) -> None:
    settings = secure(
        kafka_security_protocol="SSL",
        kafka_ssl_certfile=pki["cert"],
        kafka_ssl_keyfile=pki["key_encrypted"],
        kafka_ssl_key_password=SecretStr("wrong"),
    )
    with pytest.raises(ssl.SSLError):
        settings.kafka_options()


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs kafka_sasl_plain_username"),
        (
            {"kafka_sasl_plain_username": "u", "kafka_sasl_plain_password": SecretStr("p")},
            "not SASL_",
        ),
        ({"kafka_ssl_cafile": "CERT"}, "not SSL or SASL_SSL"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "CERT"}, "need kafka_ssl_certfile"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent/ca.pem"},
            "not point to a file",
        ),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
    ],
)
def test_settings_that_would_be_ignored_are_refused(
    values: dict[str, Any], complaint: str, pki: dict[str, Path]
) -> None:
    values = {k: pki["cert"] if v == "CERT" else v for k, v in values.items()}
    with pytest.raises(ValidationError, match=complaint):
        secure(**values)


def test_security_needs_an_external_cluster() -> None:
    with pytest.raises(ValidationError, match="embedded broker is plaintext"):
        Settings(kafka_security_protocol="SSL")


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "LGSP_KAFKA_BOOTSTRAP": CLUSTER,
        "LGSP_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "LGSP_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "LGSP_KAFKA_SASL_PLAIN_USERNAME": "lgsp-hub",
        "LGSP_KAFKA_SASL_PLAIN_PASSWORD": "pw",
    }.items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None).kafka_options()["sasl_mechanism"] == "SCRAM-SHA-256"


# --- the clients get them ------------------------------------------------------------------------------


def client_security(client: Any) -> dict[str, Any]:
    """What an aiokafka producer, consumer or admin client will connect with (its inner AIOKafkaClient)."""
    inner = client.client if isinstance(client, AIOKafkaProducer) else client._client
    return {
        "security_protocol": inner._security_protocol,
        "sasl_mechanism": inner._sasl_mechanism,
        "sasl_plain_username": inner._sasl_plain_username,
        "sasl_plain_password": inner._sasl_plain_password,
        "ssl_context": inner._ssl_context,
    }


async def test_every_client_the_bus_makes_gets_the_options() -> None:
    settings = secure(**SASL_SCRAM | {"kafka_security_protocol": "SASL_SSL"})
    bus = Bus.from_settings(settings, CLUSTER, "lgsp-hub", SIGNER, refuse_all)
    clients = [
        bus.new_producer(acks="all"),
        bus.new_consumer("lgsp.connectivity", group_id="g"),
        bus.new_admin(),
    ]
    for client in clients:
        seen = client_security(client)
        assert seen["security_protocol"] == "SASL_SSL", type(client)
        assert seen["sasl_mechanism"] == "SCRAM-SHA-512"
        assert (seen["sasl_plain_username"], seen["sasl_plain_password"]) == ("lgsp-hub", "mat-khau-bi-mat")
        assert isinstance(seen["ssl_context"], ssl.SSLContext)
    # A caller cannot quietly override them for one client.
    with pytest.raises(TypeError, match="security_protocol"):
        bus.new_producer(security_protocol="PLAINTEXT")
    for client in clients:  # never started: closing only releases them
        if isinstance(client, AIOKafkaAdminClient):
            await client.close()
        else:
            assert isinstance(client, AIOKafkaProducer | AIOKafkaConsumer)
            await client.stop()


async def test_connectors_started_by_the_hub_tools_get_the_hub_options() -> None:
    settings = secure(**SASL_SCRAM)
    connector = tuned_connector(settings, "HO-TICH", "lgsp_0123456789ab_x", CLUSTER, TRUST)
    assert connector.kafka_options == settings.kafka_options()


async def test_with_principals_a_connector_logs_in_as_its_system_not_as_the_hub() -> None:
    settings = secure(**SASL_SCRAM | {"kafka_principals": True})
    key = "lgsp_0123456789ab_x"
    connector = tuned_connector(settings, "HO-TICH", key, CLUSTER, TRUST)
    options = connector.kafka_options
    assert options["sasl_plain_username"] == "HO-TICH"
    assert options["sasl_plain_password"] == kafka_password(key)
    hub_password = settings.kafka_sasl_plain_password
    assert hub_password is not None and hub_password.get_secret_value() not in options.values()
    assert options["security_protocol"] == settings.kafka_options()["security_protocol"]


def _client_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None))
        in CLIENT_CLASSES
    ]


def test_no_client_is_made_without_the_options() -> None:
    """Hub and NGSP clients are made only by the Bus; the SDK spreads its kafka_options into each."""
    makers: dict[str, int] = {}
    for path in sorted(p for top in ("lgsp", "sandbox", "connectors") for p in (ROOT / top).rglob("*.py")):
        for call in _client_calls(path):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            spread = [k.value for k in call.keywords if k.arg is None]
            assert any(isinstance(v, ast.Attribute) and v.attr == "kafka_options" for v in spread), (
                f"{where} makes a Kafka client without **…kafka_options"
            )
            makers[str(path.relative_to(ROOT))] = makers.get(str(path.relative_to(ROOT)), 0) + 1
    assert set(makers) == {"lgsp/bus/client.py", "connectors/sdk.py"}, makers
