"""The wire contract of the LGSP axis: every bus message and the topic names, shared by hub and connectors.

This package depends on nothing of ours, so integrators in other agencies can use it alone.
"""
