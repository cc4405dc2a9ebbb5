"""Auditors' reports for a period: connectivity (`lgsp.reports.connectivity`) and once-only
(`lgsp.reports.onceonly`), over REST and from the command line."""
