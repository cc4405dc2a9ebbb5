"""Auditors' reports for a period: connectivity (here) and once-only (`lgsp.onceonly.report`), over REST
and from the command line."""
