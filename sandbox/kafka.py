"""An Apache Kafka cluster (KRaft, 1 or 3 combined broker+controller nodes) on this machine's loopback,
driven through `scripts/kafka.sh`, which assembles Kafka from Maven Central jars. Used by the tests on
Apache Kafka (`make test-kafka`), `make cluster` and the benchmarks."""

import asyncio
import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "kafka.sh"


class KafkaClusterError(RuntimeError):
    """The script failed; the message carries what it said."""


@dataclass(frozen=True, slots=True)
class Node:
    """One combined broker+controller node."""

    id: int
    pid: int
    broker_port: int
    controller_port: int


#: Longest a script call may take: a cold fetch downloads Kafka's jars from Maven Central.
SCRIPT_PATIENCE = 600.0


async def kafka_script(*args: str) -> str:
    """Run `scripts/kafka.sh ARGS` and return its standard output; raise with its output if it fails."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        str(SCRIPT),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(SCRIPT_PATIENCE):
            out, err = await process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        said = (err or out).decode(errors="replace").strip()[-2000:]
        raise KafkaClusterError(f"scripts/kafka.sh {' '.join(args)} failed ({process.returncode}): {said}")
    return out.decode()


class KafkaCluster:
    """A cluster of `nodes` nodes in `directory` (a new temporary one by default, kept afterwards for its
    logs); an async context manager that always stops it. Its `bootstrap` lists every node."""

    def __init__(self, nodes: int = 3, directory: Path | None = None) -> None:
        self.size = nodes
        self.directory = directory or Path(tempfile.mkdtemp(prefix="lgsp-kafka-"))

    @property
    def bootstrap(self) -> str:
        """host:port of every node, comma-separated."""
        return (self.directory / "bootstrap").read_text().strip()

    def nodes(self) -> list[Node]:
        """The nodes as the script last wrote them (pids change when a node is restarted)."""
        lines = (self.directory / "nodes").read_text().split("\n")
        return [Node(*map(int, line.split())) for line in lines if line.strip()]

    async def start(self) -> str:
        """Fetch Kafka's jars if they are not cached yet, start the nodes, return the bootstrap list."""
        await kafka_script("fetch")
        await kafka_script("start", "--nodes", str(self.size), "--dir", str(self.directory))
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
