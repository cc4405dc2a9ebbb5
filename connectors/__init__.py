"""The connector SDK integrators use to join the axis, and the mock provincial systems built on it.

Connectors talk to the hub only over the bus and HTTP; they import `schemas`, never `lgsp`.
"""

from connectors.sdk import Connector

__all__ = ["Connector"]
