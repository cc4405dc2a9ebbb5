"""Registering a system with the hub over REST, as an integrator does once before connecting."""

from dataclasses import dataclass
from typing import Any

import httpx


class RegistrationError(RuntimeError):
    """The hub refused the registration; the message is the hub's."""


@dataclass(frozen=True, slots=True)
class Registered:
    """What registration gives back: the system's id, its API key (shown only this once) and the trust
    anchor its connector checks the hub's and the NGSP's messages with."""

    system_id: int
    code: str
    api_key: str
    bus_trust: str


async def register_system(client: httpx.AsyncClient, spec: dict[str, Any]) -> Registered:
    """POST the system to /api/v1/systems with the client's credentials."""
    response = await client.post("/api/v1/systems", json=spec)
    if response.status_code != 201:
        raise RegistrationError(f"{response.status_code}: {response.text}")
    body = response.json()
    return Registered(
        system_id=body["id"], code=body["code"], api_key=body["api_key"], bus_trust=body["bus_trust"]
    )
