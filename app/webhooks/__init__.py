"""Webhook delivery: SSRF guard, signing, the outbox worker and its task queue."""
