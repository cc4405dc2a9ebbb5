"""A system's declarative sources stored on the hub, their desired state and their reported status."""
