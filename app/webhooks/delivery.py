"""Send one signed webhook request to the address the SSRF guard checked."""

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
import urllib3

from app.webhooks import signing, ssrf

TIMEOUT_SECONDS = 10
# A target that does not even accept the connection fails fast, leaving the worker to others.
CONNECT_TIMEOUT_SECONDS = 3
MAX_RESPONSE_BYTES = 4096
USER_AGENT = "TodosAPI-Webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: success, or the reason it failed; `gone` for a 410; `final`: no retry."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    given_up: bool = False

    @property
    def gone(self):
        return self.status_code == 410

    @property
    def final(self):
        return self.gone or self.given_up

    @property
    def unreachable(self):
        """Whether the target did not answer at all (refused, unreachable, timed out): it cools off."""
        no_answer = (self.error or "").startswith(("Connection", "No answer"))
        return self.status_code is None and not self.given_up and no_answer


def request_parts(secret, payload, now=None):
    """Return (body, headers) of a delivery: the JSON payload and its Standard Webhooks headers."""
    body = orjson.dumps(payload)
    timestamp = int(now if now is not None else time.time())
    headers = {
        "webhook-id": payload["id"],
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(secret, payload["id"], timestamp, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    return body, headers


def target_of(url):
    """The host:port a URL is sent to: concurrency caps and cool-offs count per target."""
    parts = urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def send(target_url, secret, payload, allowed_hosts=()):
    """POST the payload to target_url, checking and pinning its address; never raises for the network."""
    try:
        target, addresses = ssrf.check(target_url, allowed_hosts)
    except ssrf.UnsafeURL as e:
        return Outcome(False, error=str(e))
    body, headers = request_parts(secret, payload)
    headers["Host"] = target.host_header
    try:
        response = _post(target, str(addresses[0]), body, headers)
    except urllib3.exceptions.NewConnectionError as e:  # a subclass of the timeout error
        return Outcome(False, error=f"Connection failed: {_reason(e)}")
    except urllib3.exceptions.TimeoutError:
        return Outcome(False, error=f"No answer within {TIMEOUT_SECONDS} s.")
    except urllib3.exceptions.SSLError as e:
        return Outcome(False, error=f"TLS error: {_reason(e)}")
    except urllib3.exceptions.HTTPError as e:
        return Outcome(False, error=f"Connection failed: {_reason(e)}")
    return _judge(response)


def _post(target, address, body, headers):
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, total=TIMEOUT_SECONDS)
    if target.scheme == "https":
        # Connect to the checked address; verify the certificate against the name.
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            timeout=timeout,
            retries=False,
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)
    try:
        response = pool.urlopen(
            "POST", target.path, body=body, headers=headers, redirect=False, retries=False, preload_content=False
        )
        try:
            snippet = response.read(MAX_RESPONSE_BYTES, decode_content=False)
        finally:
            response.release_conn()
        return response.status, snippet
    finally:
        pool.close()


def _judge(response):
    status, snippet = response
    if 200 <= status < 300:
        return Outcome(True, status)
    if 300 <= status < 400:
        return Outcome(False, status, f"HTTP {status}: redirects are not followed.")
    text = snippet[:200].decode("utf-8", "replace").strip()
    return Outcome(False, status, f"HTTP {status}" + (f": {text}" if text else ""))


def _reason(error):
    reason = getattr(error, "reason", None) or error
    return str(reason)[:200]
