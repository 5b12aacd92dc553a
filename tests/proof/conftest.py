"""Fixtures of the proof suites: live Gunicorn servers on the test database."""

import os
from pathlib import Path

import pytest

from app import create_app
from tests.conftest import _empty_tables, make_config
from tests.live import start_server
from tests.proof.helpers import PROOF_PORTS, QUIET_LIMITS

os.environ.setdefault("LIVE_PORT_RANGE", PROOF_PORTS)
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    """The slow proofs (load, several instances) run with RUN_SLOW=1; .ci/run sets it."""
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow proof: set RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords and HERE in Path(item.fspath).parents:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def routes_app(database_url):
    """An app built like the server's, to ask which routes this build serves."""
    return create_app(make_config(database_url))


@pytest.fixture(scope="module")
def module_server(database_url):
    """Start one server per module: `module_server(workers=2, env=None)`, emptied tables first."""
    _empty_tables(database_url)
    servers = []

    def start(workers=2, env=None):
        server = start_server(database_url, workers=workers, env={**QUIET_LIMITS, **(env or {})})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
