"""The cluster fault tests print their summaries again at the end of the run, like tests/faults."""

from tests.faults.conftest import pytest_terminal_summary

__all__ = ["pytest_terminal_summary"]
