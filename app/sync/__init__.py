"""Sync for SPAs and offline clients: an ordered change feed per user and its live event stream."""
