"""What a test needs of the session's broker, whichever it is (embedded Tansu or Apache Kafka)."""

from typing import Protocol


class Broker(Protocol):
    """A running broker or cluster that clients reach at `bootstrap`."""

    @property
    def bootstrap(self) -> str:
        """host:port[,host:port...]"""
        ...
