"""An in-memory stand-in for `lgsp.bus.Bus`, for unit tests of the decisions a component makes: it
records what would be sent and sends nothing. Tests named after bus behaviour use the real broker.

It holds what components read of the bus while deciding (`topics`, `max_message_bytes`), the signer the
hub sends as (`signer`, `seal`: what it sends is signed, as on the real bus), the authentication its
workers run before their handlers (`authenticate`) and the two ways they send (`send`, `send_all`).
Anything else (consuming, creating topics) is the real bus's business: a
component that reaches for it in a unit test fails with AttributeError, which is the point."""

from collections.abc import Iterable
from typing import Any, cast

from buscore.signing import HUB, Signer
from lgsp.bus import Bus
from lgsp.bus.worker import Authenticate
from lgsp.settings import MAX_MESSAGE_BYTES
from schemas.messages import Codec, Message
from schemas.topics import Topics
from tests.support.signing import authenticator, made_up_signer


class MemoryBus:
    """Records `(topic, value, key)` for every send; `sent_to` decodes what went to one topic."""

    def __init__(
        self,
        prefix: str = "unit",
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        *,
        signer: Signer | None = None,
        authenticate: Authenticate | None = None,
    ) -> None:
        self.topics = Topics(prefix)
        # The exchange router refuses requests over this size at admission.
        self.max_message_bytes = max_message_bytes
        self.signer = signer or made_up_signer(HUB)  # a hub's platform key, unless told another
        # Workers take it from their bus; unless told otherwise, only this bus's own signer is known.
        self.authenticate: Authenticate = authenticate or authenticator(self.signer)
        self.sent: list[tuple[str, bytes, str | None]] = []

    def seal(self, message: Message) -> bytes:
        """The wire bytes of a message, signed by this bus's signer (as the real bus's `seal`)."""
        return self.signer.seal(message)

    async def send_all(self, items: Iterable[tuple[str, bytes, str | None]]) -> None:
        """Record the records instead of publishing them."""
        self.sent.extend(items)

    async def send(self, topic: str, message: Message, key: str | None = None) -> None:
        """Record one message, signed as the real bus would."""
        self.sent.append((topic, self.seal(message), key))

    def sent_to(self, topic: str, codec: Codec[Any]) -> list[Any]:
        """The messages recorded for `topic`, in the order sent, decoded."""
        return [codec.decode(value) for t, value, _ in self.sent if t == topic]

    def keys_sent_to(self, topic: str) -> list[str | None]:
        """The keys of the records sent to `topic`, in the order sent (they choose the partition)."""
        return [key for t, _, key in self.sent if t == topic]

    def as_bus(self) -> Bus:
        """This double where a component's signature wants the real bus (it uses only what is above)."""
        return cast(Bus, self)
