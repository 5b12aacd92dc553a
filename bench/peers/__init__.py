"""Peers of the service for the benchmark: the same endpoints, the same JSON, other stacks. Never imported by app/."""
