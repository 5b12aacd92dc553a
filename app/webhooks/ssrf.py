"""SSRF guard: which target URLs a webhook may have, and which addresses it may reach."""

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
# A last label that URL parsers (and inet_aton) read as a number makes the host an IPv4 address.
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_TEREDO = ipaddress.ip_network("2001::/32")
_SIX_TO_FOUR_RELAY = ipaddress.ip_network("192.88.99.0/24")


class UnsafeURL(ValueError):
    """A target URL or address that webhooks may not use; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked target: where to connect and what to say to it."""

    scheme: str
    host: str  # lower-case name or canonical address, without brackets
    port: int
    path: str  # path and query, never empty
    allowed: bool  # listed in WEBHOOK_ALLOWED_HOSTS: exempt from the public-address rule

    @property
    def host_header(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse(url, allowed_hosts=()):
    """Check the form of `url` and return its Target, or raise UnsafeURL."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"The URL must be a string of at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeURL("The URL is not valid.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL("The URL must be an absolute https URL.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("The URL may not carry a user name or password.")
    host = _canonical_host(parts.hostname)
    port = port or (443 if parts.scheme == "https" else 80)
    allowed = _is_allowed(host, port, allowed_hosts)
    if parts.scheme == "http" and not allowed:
        raise UnsafeURL("The URL must use https.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    target = Target(parts.scheme, host, port, path, allowed)
    if not allowed and _literal_address(host) is not None:
        check_address(_literal_address(host))
    return target


def resolve(target):
    """Resolve the target's host and return its addresses, every one of them checked."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"The host {target.host} does not resolve.") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not addresses:
        raise UnsafeURL(f"The host {target.host} does not resolve.")
    if not target.allowed:
        for address in addresses:
            check_address(address)
    return addresses


def check(url, allowed_hosts=()):
    """Parse and resolve `url`; return (Target, addresses) or raise UnsafeURL."""
    target = parse(url, allowed_hosts)
    return target, resolve(target)


def check_address(address):
    """Raise UnsafeURL unless `address` is a public unicast address (embedded IPv4 included)."""
    if not is_public(address):
        raise UnsafeURL(f"The URL resolves to a non-public address ({address}).")


def is_public(address):
    """Return whether an address is globally routable unicast, looking inside IPv6 wrappers."""
    if address.version == 6:
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
        if address in _IPV4_COMPATIBLE or address in _TEREDO or address in _NAT64_LOCAL:
            return False
        if address.is_site_local:
            return False
    elif address in _SIX_TO_FOUR_RELAY:
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def _embedded_ipv4(address):
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _canonical_host(hostname):
    """Return the lower-case host; refuse numeric forms that are not canonical addresses."""
    host = hostname.lower()
    if ":" in host:  # an IPv6 literal (urlsplit took the brackets off)
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise UnsafeURL("The URL's host is not a valid address.") from None
    host = host.removesuffix(".")
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            raise UnsafeURL("The URL's host must be a name or a dotted-quad IPv4 address.") from None
        if str(address) != host:
            raise UnsafeURL("The URL's host must be a name or a dotted-quad IPv4 address.")
        return host
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeURL("The URL's host is not a valid name.") from None
    if not _NAME.match(host):
        raise UnsafeURL("The URL's host is not a valid name.")
    return host


def _literal_address(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_allowed(host, port, allowed_hosts):
    for entry in allowed_hosts:
        name, entry_port = _split_entry(entry.strip().lower())
        if name == host and entry_port in ("", str(port)):
            return True
    return False


def _split_entry(entry):
    """Split an allowed `host[:port]` entry ([v6]:port included) into (host, port)."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        name, port = name, rest.removeprefix(":")
    elif entry.count(":") == 1:
        name, _, port = entry.partition(":")
    else:
        name, port = entry, ""
    address = _literal_address(name)
    return (str(address) if address is not None else name.removesuffix(".")), port
