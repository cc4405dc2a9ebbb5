"""An in-memory stand-in for `lgsp.bus.Bus`, for unit tests of the decisions a component makes: it
records what would be sent and sends nothing. Tests named after bus behaviour use the real broker."""

from collections.abc import Iterable
from typing import Any, cast

from lgsp.bus import Bus
from schemas.messages import Codec, Message, encode
from schemas.topics import Topics


class MemoryBus:
    """Records `(topic, value, key)` for every send; `sent_to` decodes what went to one topic."""

    def __init__(self, prefix: str = "unit") -> None:
        self.topics = Topics(prefix)
        self.client_id = "memory"
        self.max_message_bytes = 1_000_000
        self.session_timeout_ms = 10_000
        self.fetch_max_wait_ms = 100
        self.sent: list[tuple[str, bytes, str | None]] = []

    async def send_all(self, items: Iterable[tuple[str, bytes, str | None]]) -> None:
        """Record the records instead of publishing them."""
        self.sent.extend(items)

    async def send(self, topic: str, message: Message, key: str | None = None) -> None:
        """Record one message."""
        self.sent.append((topic, encode(message), key))

    def sent_to(self, topic: str, codec: Codec[Any]) -> list[Any]:
        """The messages recorded for `topic`, decoded."""
        return [codec.decode(value) for t, value, _ in self.sent if t == topic]

    def as_bus(self) -> Bus:
        """This double where a component's signature wants the real bus (it uses only what is above)."""
        return cast(Bus, self)
