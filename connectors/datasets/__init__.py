"""Deterministic mock data for the provincial systems: one population, and the stores derived from it.

`await generate_all(directory, citizens=..., seed=...)` writes one SQLite file per system: the national
population (the NGSP stub's), civil status, land, business registration, social insurance and the
register of official documents of the document-management system (QLVB). Each
store class opens its file read-only and offers the lookups a service handler makes, returning plain
JSON-able dicts.
"""

from connectors.datasets.business import BusinessStore
from connectors.datasets.civil_status import CivilStatusStore
from connectors.datasets.documents import DocumentStore
from connectors.datasets.generate import DEFAULT_AS_OF, STORES, Datasets, Profile, Progress, generate_all
from connectors.datasets.land import LandStore
from connectors.datasets.population import PopulationStore
from connectors.datasets.social_insurance import SocialInsuranceStore
from connectors.datasets.sqlite import SqliteStore

__all__ = [
    "DEFAULT_AS_OF",
    "STORES",
    "BusinessStore",
    "CivilStatusStore",
    "Datasets",
    "DocumentStore",
    "LandStore",
    "PopulationStore",
    "Profile",
    "Progress",
    "SocialInsuranceStore",
    "SqliteStore",
    "generate_all",
]
