"""Proof under fire: hostile input, concurrency and several instances against a live server."""
