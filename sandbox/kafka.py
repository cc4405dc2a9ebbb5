"""An Apache Kafka cluster (KRaft, 1 or 3 combined broker+controller nodes) on this machine's loopback,
driven through `scripts/kafka.sh`, which assembles Kafka from Maven Central jars. Used by the tests on
Apache Kafka (`make test-kafka`), `make cluster` and the benchmarks.

With `sasl=True` clients authenticate with SASL/SCRAM-SHA-512 and are authorized by ACLs (nothing is
allowed without one); `admin` is the super user, made when the storage is formatted
(docs/deployers/kafka-acls.md)."""

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "kafka.sh"


class KafkaClusterError(RuntimeError):
    """The script failed; the message carries what it said."""


@dataclass(frozen=True, slots=True)
class Node:
    """One combined broker+controller node; `sasl_port` is the clients' listener of a SASL cluster."""

    id: int
    pid: int
    broker_port: int
    controller_port: int
    sasl_port: int | None = None


#: The SCRAM mechanism of a SASL cluster's clients' listener.
SASL_MECHANISM = "SCRAM-SHA-512"


#: Longest a script call may take: a cold fetch downloads Kafka's jars from Maven Central.
SCRIPT_PATIENCE = 600.0


async def kafka_script(*args: str, environment: Mapping[str, str] | None = None) -> str:
    """Run `scripts/kafka.sh ARGS` (with `environment` added to this process's) and return its standard
    output; raise with its output if it fails."""
    # Its output goes to files, not pipes: the nodes `start` leaves running may hold a copy of a pipe's
    # write end (uvloop's spawning does not close every inherited descriptor), and a read to the end of
    # the pipe would then wait for the nodes to exit.
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            "bash",
            str(SCRIPT),
            *args,
            stdout=stdout,
            stderr=stderr,
            stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, **environment} if environment else None,
        )
        try:
            async with asyncio.timeout(SCRIPT_PATIENCE):
                await process.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        out, err = await asyncio.to_thread(_read, stdout), await asyncio.to_thread(_read, stderr)
    if process.returncode != 0:
        said = (err or out).strip()[-2000:]
        raise KafkaClusterError(f"scripts/kafka.sh {' '.join(args)} failed ({process.returncode}): {said}")
    return out


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


class KafkaCluster:
    """A cluster of `nodes` nodes in `directory` (a new temporary one by default, kept afterwards for its
    logs); an async context manager that always stops it. Its `bootstrap` lists every node.

    With `sasl=True` the nodes' client listener is SASL_PLAINTEXT with SCRAM-SHA-512, an authorizer
    allows only what ACLs grant, and `admin` is a super user whose password the script makes up
    (`admin_password`); `bootstrap` then lists the SASL ports, and `internal_bootstrap` the
    unauthenticated inter-broker ones, which clients must not be given. A client session lasts
    `reauth_ms` (connections.max.reauth.ms; the script's default is a minute): a changed or deleted
    credential ends the sessions opened with it within that time.
    """

    def __init__(
        self,
        nodes: int = 3,
        directory: Path | None = None,
        *,
        sasl: bool = False,
        admin: str = "lgsp.admin",
        reauth_ms: int | None = None,
    ) -> None:
        self.size = nodes
        self.directory = directory or Path(tempfile.mkdtemp(prefix="lgsp-kafka-"))
        self.sasl = sasl
        self.admin = admin
        self.reauth_ms = reauth_ms

    @property
    def bootstrap(self) -> str:
        """host:port of every node, comma-separated (the SASL listener's ports on a SASL cluster)."""
        return (self.directory / "bootstrap").read_text().strip()

    @property
    def internal_bootstrap(self) -> str:
        """host:port of every node's unauthenticated PLAINTEXT listener (the brokers' own)."""
        name = "internal_bootstrap" if self.sasl else "bootstrap"
        return (self.directory / name).read_text().strip()

    @property
    def admin_password(self) -> str:
        """The super user's SCRAM password (a SASL cluster only)."""
        if not self.sasl:
            raise KafkaClusterError("this cluster has no SASL users (start it with sasl=True)")
        return (self.directory / "sasl_admin").read_text().split("\n")[1]

    def client_options(self, username: str | None = None, password: str | None = None) -> dict[str, str]:
        """aiokafka's security keyword arguments for `username` (the super user by default)."""
        if not self.sasl:
            return {"security_protocol": "PLAINTEXT"}
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SASL_MECHANISM,
            "sasl_plain_username": username or self.admin,
            "sasl_plain_password": password if password is not None else self.admin_password,
        }

    def nodes(self) -> list[Node]:
        """The nodes as the script last wrote them (pids change when a node is restarted)."""
        lines = (self.directory / "nodes").read_text().split("\n")
        return [Node(*map(int, line.split())) for line in lines if line.strip()]

    async def start(self) -> str:
        """Fetch Kafka's jars if they are not cached yet, start the nodes, return the bootstrap list."""
        await kafka_script("fetch")
        sasl = ("--sasl", "--admin", self.admin) if self.sasl else ()
        reauth = {"LGSP_KAFKA_REAUTH_MS": str(self.reauth_ms)} if self.reauth_ms is not None else None
        await kafka_script(
            "start", "--nodes", str(self.size), "--dir", str(self.directory), *sasl, environment=reauth
        )
        return self.bootstrap

    async def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL what is left)."""
        await kafka_script("stop", "--dir", str(self.directory))

    async def kill(self, node: int) -> None:
        """SIGKILL one node, as a crash would."""
        await kafka_script("kill", str(node), "--dir", str(self.directory))

    async def stop_node(self, node: int) -> None:
        """Stop one node cleanly (SIGTERM), as a rolling restart does."""
        await kafka_script("stop-node", str(node), "--dir", str(self.directory))

    async def restart(self, node: int) -> None:
        """Start a stopped or killed node again on its data; returns once it accepts connections."""
        await kafka_script("restart-node", str(node), "--dir", str(self.directory))

    async def controller(self) -> int:
        """The id of the active KRaft controller."""
        return int((await kafka_script("controller", "--dir", str(self.directory))).strip())

    async def __aenter__(self) -> "KafkaCluster":
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
