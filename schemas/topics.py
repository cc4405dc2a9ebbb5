"""Topic names of the axis. One prefix per deployment (or per test) keeps installations apart."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topics:
    """All topic names derived from one prefix, so hub, NGSP stub and connectors agree."""

    prefix: str = "lgsp"

    @property
    def connectivity(self) -> str:
        """Systems -> hub: hello, heartbeats and probe replies, keyed by system code."""
        return f"{self.prefix}.connectivity"

    @property
    def requests(self) -> str:
        """Clients -> hub: service requests, keyed by client system code."""
        return f"{self.prefix}.requests"

    @property
    def responses(self) -> str:
        """Providers -> hub: service responses, keyed by client system code."""
        return f"{self.prefix}.responses"

    @property
    def dossiers(self) -> str:
        """One-stop shops -> hub: completed dossiers for the once-only ledger, keyed by applicant."""
        return f"{self.prefix}.dossiers"

    @property
    def ngsp_requests(self) -> str:
        """Hub -> NGSP: catalogue registrations, probe requests and service calls beyond the province."""
        return f"{self.prefix}.ngsp.requests"

    @property
    def ngsp_events(self) -> str:
        """NGSP -> hub: registration acknowledgements and probe results."""
        return f"{self.prefix}.ngsp.events"

    @property
    def ngsp_results(self) -> str:
        """NGSP -> hub: answers to service calls for national databases and other provinces."""
        return f"{self.prefix}.ngsp.results"

    @property
    def ngsp_probe_replies(self) -> str:
        """Systems -> NGSP: replies to probes the NGSP sent through the axis."""
        return f"{self.prefix}.ngsp.probe-replies"

    @property
    def dead_letters(self) -> str:
        """Anything a consumer could not parse or validate, with the reason and the original bytes."""
        return f"{self.prefix}.dead-letters"

    @property
    def dead_letters_raw(self) -> str:
        """Rejected records whole, only while an operator turns raw mode on; kept a short time."""
        return f"{self.prefix}.dead-letters.raw"

    def inbox(self, system: str) -> str:
        """The inbox of one system: probes (and, later, requests) addressed to it."""
        return f"{self.prefix}.inbox.{system}"
