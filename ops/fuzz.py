"""Contract fuzzing: Schemathesis against the served OpenAPI document of a live server, as a logged-in user.

    python -m ops.fuzz [--database-url URL] [--max-examples 10] [--max-time 180] [-- extra schemathesis args]

Starts Gunicorn on a scratch database and runs every Schemathesis check as a
registered user (ops/fuzz_hooks.py logs in again whenever a fuzzed logout ends the
token); stateful links are followed where the document declares them. Exits with Schemathesis' status.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ops.faults import prepare
from tests.live import start_server
from tests.proof.helpers import API, QUIET_LIMITS

os.environ.setdefault("LIVE_PORT_RANGE", "8180-8189")
ROOT = Path(__file__).resolve().parent.parent
# 412 counts as a rejection on the operations that take If-Match: see the file.
CONFIG = Path(__file__).resolve().parent / "fuzz.toml"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("FUZZ_MAX_EXAMPLES", "10")))
    parser.add_argument("--max-time", type=int, default=int(os.environ.get("FUZZ_MAX_TIME", "180")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="more schemathesis arguments, after --")
    args = parser.parse_args(argv)
    url = args.database_url or "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="fuzz-"), "fuzz.sqlite3")
    prepare(url)
    env = {**QUIET_LIMITS, "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1:9"}
    with start_server(url, workers=args.workers, env=env) as server:
        report = Path(os.environ.get("FUZZ_REPORT_DIR", tempfile.mkdtemp(prefix="fuzz-report-")))
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{server.url}{API}/openapi.json",
            "--checks",
            "all",
            # positive_data_acceptance is on: ops/fuzz_hooks.before_call leaves opaque cursors, stale
            # If-Match tags and reused Idempotency-Keys out of schema-valid cases, and ops/fuzz.toml names
            # the domain rules a schema cannot state. use_after_free runs as
            # ops/fuzz_hooks.use_after_free_of_resources (all but clear-completed).
            "--exclude-checks",
            "use_after_free",
            # The event stream answers for as long as the login lives: a generated request to it
            # either ends at the client's timeout or is cut when a sync worker is recycled, which
            # says nothing of the contract. Its input (`since`, auth) is the change feed's, fuzzed
            # there; tests/test_changes.py and tests/proof/test_events_live.py hold the stream.
            "--exclude-name",
            "GET /api/v1/events",
            "--max-examples",
            str(args.max_examples),
            "--max-time",
            str(args.max_time),
            "--workers",
            "1",
            "--seed",
            os.environ.get("FUZZ_SEED", "1"),
            "--request-timeout",
            "30",
            "--suppress-health-check",
            "all",
            "--report",
            "junit,ndjson",
            "--report-dir",
            str(report),
            *args.extra,
        ]
        print("fuzz:", " ".join(command), flush=True)
        hooks = {"SCHEMATHESIS_HOOKS": "ops.fuzz_hooks", "FUZZ_BASE_URL": server.url}
        code = subprocess.call(command, cwd=ROOT, env={**os.environ, **hooks})
        print(f"fuzz: reports in {report}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
