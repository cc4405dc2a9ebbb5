"""The LGSP hub: the provincial data-sharing axis and its indicators."""

__version__ = "0.1.0"
