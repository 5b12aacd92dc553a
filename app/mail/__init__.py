"""Transactional mail: an outbox row written with the change, rendered from templates, sent over SMTP by the worker."""
