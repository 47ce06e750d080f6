"""The SSRF guard: links in feeds are untrusted, so we refuse to fetch internal addresses.

Every hop of a fetch (the first URL and each redirect) is resolved here, and the request is
then sent to the checked address itself (see ``Fetcher``), so a DNS answer that changes
between check and connect (DNS rebinding) cannot slip an internal address through.

Refused by default: loopback, private (RFC 1918, ULA), link-local (which holds the cloud
metadata service 169.254.169.254), carrier-grade NAT (100.64/10, holds Alibaba's metadata
address), multicast, reserved and unspecified addresses, and the IPv6 forms of all these
(IPv4-mapped, NAT64 and 6to4 addresses are unwrapped first). ``allow_networks`` lists CIDRs
exempt from the guard, e.g. ``["127.0.0.1/32"]`` for tests and the offline demo.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["GuardVerdict", "blocked_reason", "check_host", "parse_networks"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_EXTRA_BLOCKED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT; 100.100.100.200 is a metadata IP
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6 (inside ULA anyway)
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """The outcome of checking one host: the addresses to connect to, or why not."""

    allowed: bool
    addresses: tuple[str, ...] = ()
    reason: str | None = None
    unresolved: bool = False  # the name did not resolve: a network error, not a refusal


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse the allow-list; raises ValueError on a malformed CIDR (a configuration error)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _unwrap(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def blocked_reason(address: str, allow: Sequence[IPNetwork] = ()) -> str | None:
    """Why ``address`` must not be fetched, or None when it may be."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"not an IP address: {address!r}"
    if any(parsed in network for network in allow if network.version == parsed.version):
        return None
    inner = _unwrap(parsed)
    if any(inner in network for network in allow if network.version == inner.version):
        return None
    for label, flagged in (
        ("loopback", inner.is_loopback),
        ("link-local/metadata", inner.is_link_local),
        ("private", inner.is_private),
        ("multicast", inner.is_multicast),
        ("reserved", inner.is_reserved),
        ("unspecified", inner.is_unspecified),
    ):
        if flagged:
            return f"{label} address {address}"
    if any(inner in network for network in _EXTRA_BLOCKED if network.version == inner.version):
        return f"internal address {address}"
    if not inner.is_global:
        return f"non-global address {address}"
    return None


async def check_host(host: str, port: int, allow: Sequence[IPNetwork] = ()) -> GuardVerdict:
    """Resolve ``host`` and allow it only if every address it resolves to is allowed.

    All addresses must pass, not just one: otherwise a name answering with one public and
    one internal address could reach the internal one.
    """
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        candidates = [host]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            return GuardVerdict(False, reason=f"cannot resolve {host}: {exc}", unresolved=True)
        found = dict.fromkeys(str(info[4][0]) for info in infos)
        candidates = sorted(found, key=lambda address: ":" in address)  # IPv4 first
    if not candidates:
        return GuardVerdict(False, reason=f"no address for {host}", unresolved=True)
    for address in candidates:
        reason = blocked_reason(address, allow)
        if reason is not None:
            return GuardVerdict(False, reason=f"{host}: {reason}")
    return GuardVerdict(True, addresses=tuple(candidates))
