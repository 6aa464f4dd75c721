"""treatygraph: a linked-data publisher for treaties, their bodies and memberships over time."""

__version__ = "0.1.0"
