"""Operational proofs: fault injection and soak load against a live server."""
