"""Declarative connectors: a system's services described in a YAML file and served with no code
(docs/integrators/declarative-connectors.md). `load_config` reads and checks a file,
`started_sources` opens its databases and APIs, `Sources.attach` serves them on a `Connector`."""

from connectors.declarative.config import ConnectorConfig, DatabaseSource, RestSource
from connectors.declarative.health import Health, State
from connectors.declarative.loading import ConfigError, Problem, load_config, parse_config
from connectors.declarative.runner import Sources, started_sources
from connectors.declarative.secrets import SourceError

__all__ = [
    "ConfigError",
    "ConnectorConfig",
    "DatabaseSource",
    "Health",
    "Problem",
    "RestSource",
    "SourceError",
    "Sources",
    "State",
    "load_config",
    "parse_config",
    "started_sources",
]
