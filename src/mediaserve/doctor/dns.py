"""Hop ``dns``: what the URL's host name resolves to, as a crawler on the internet sees it.

Three ways it breaks before any byte is served: no record at all (a typo, a record not yet
created, NXDOMAIN), an AAAA record only (clients and crawlers without IPv6 cannot connect:
the A record was forgotten after a move), and a private address published in public DNS
(``10.0.0.5``: it works in the office, nowhere else).

By default the system resolver answers (``getaddrinfo``). ``--resolver HOST:PORT`` asks one
DNS server directly over UDP (RFC 1035 wire format, written here with the standard library),
which is how a public resolver's view is checked, and how the tests use a stub server. The
addresses it returns are the ones the other hops connect to.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import struct
from dataclasses import dataclass, field

from .report import Finding

__all__ = ["Answer", "DNSError", "check_dns", "query", "resolve"]

HOP = "dns"
TYPE_A, TYPE_AAAA, TYPE_CNAME = 1, 28, 5
CLASS_IN = 1
RCODE_NXDOMAIN = 3
#: RFC 1035 §4.2.1: UDP messages are limited to 512 bytes without EDNS; we ask for no more.
MAX_UDP = 512


class DNSError(Exception):
    """The resolver could not be asked or sent something that is not a DNS answer."""


@dataclass
class Answer:
    """Addresses for one name: ``nxdomain`` when the name does not exist at all."""

    name: str
    a: list[str] = field(default_factory=list)
    aaaa: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)
    nxdomain: bool = False

    @property
    def addresses(self) -> list[str]:
        return self.a + self.aaaa


def _encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("idna") if not label.isascii() else label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise DNSError(f"{name!r} is not a valid host name (label {label!r})")
        out += bytes([len(raw)]) + raw
    return bytes(out) + b"\0"


def _read_name(message: bytes, offset: int) -> tuple[str, int]:
    """A possibly compressed name (RFC 1035 §4.1.4) and the offset after it."""
    labels: list[str] = []
    end = None
    jumps = 0
    while True:
        if offset >= len(message):
            raise DNSError("truncated name in the answer")
        length = message[offset]
        if length & 0xC0 == 0xC0:  # a pointer to an earlier name
            if offset + 1 >= len(message) or jumps > 32:
                raise DNSError("bad name pointer in the answer")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            jumps += 1
            continue
        offset += 1
        if length == 0:
            break
        labels.append(message[offset : offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels).lower(), end if end is not None else offset


def query(
    name: str, qtype: int, server: tuple[str, int], timeout: float
) -> tuple[int, list[tuple[str, int, bytes]]]:
    """Ask ``server`` for ``name``/``qtype`` over UDP: ``(rcode, [(owner, type, rdata)])``."""
    ident = secrets.randbits(16)
    # Header (RFC 1035 §4.1.1): ID, flags with RD set, one question.
    message = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    message += _encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(message, server)
            while True:
                reply, _ = sock.recvfrom(4096)
                if len(reply) >= 12 and struct.unpack("!H", reply[:2])[0] == ident:
                    break
        except TimeoutError:
            raise DNSError(
                f"no answer from the resolver {server[0]}:{server[1]} in {timeout:g} s"
            ) from None
        except OSError as exc:
            raise DNSError(
                f"cannot ask the resolver {server[0]}:{server[1]}: {exc.strerror or exc}"
            ) from None
    _, flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", reply[:12])
    rcode = flags & 0x000F
    offset = 12
    for _ in range(qdcount):
        _, offset = _read_name(reply, offset)
        offset += 4
    records: list[tuple[str, int, bytes]] = []
    for _ in range(ancount):
        owner, offset = _read_name(reply, offset)
        if offset + 10 > len(reply):
            raise DNSError("truncated record in the answer")
        rtype, _, _, length = struct.unpack("!HHIH", reply[offset : offset + 10])
        offset += 10
        rdata = reply[offset : offset + length]
        if rtype == TYPE_CNAME:
            target, _ = _read_name(reply, offset)
            rdata = target.encode()
        offset += length
        records.append((owner, rtype, rdata))
    return rcode, records


def resolve(name: str, server: tuple[str, int] | None, timeout: float) -> Answer:
    """A and AAAA records of ``name`` from ``server``, or from the system resolver."""
    answer = Answer(name=name.lower().rstrip("."))
    if server is None:
        try:
            infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                answer.nxdomain = True
                return answer
            raise DNSError(f"the system resolver failed: {exc.strerror or exc}") from None
        for family, _, _, _, sockaddr in infos:
            address = str(sockaddr[0])
            bucket = answer.a if family == socket.AF_INET else answer.aaaa
            if address not in bucket:
                bucket.append(address)
        return answer
    for qtype in (TYPE_A, TYPE_AAAA):
        rcode, records = query(name, qtype, server, timeout)
        if rcode == RCODE_NXDOMAIN:
            answer.nxdomain = True
            return answer
        if rcode != 0:
            raise DNSError(f"the resolver answered rcode {rcode} (SERVFAIL is 2, REFUSED 5)")
        for _owner, rtype, rdata in records:
            if rtype == TYPE_CNAME and rdata.decode() not in answer.cnames:
                answer.cnames.append(rdata.decode())
            elif rtype == TYPE_A and len(rdata) == 4:
                answer.a.append(str(ipaddress.IPv4Address(rdata)))
            elif rtype == TYPE_AAAA and len(rdata) == 16:
                answer.aaaa.append(str(ipaddress.IPv6Address(rdata)))
    return answer


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified


def check_dns(
    host: str,
    server: tuple[str, int] | None,
    timeout: float,
    *,
    local: bool = False,
    pinned: str | None = None,
) -> tuple[Answer | None, list[Finding]]:
    """The host's addresses and the findings about them. ``pinned``: --resolve gave an
    address, so nothing is looked up."""
    try:
        ipaddress.ip_address(host)
        return None, [Finding(HOP, "skip", f"{host} is an address: nothing to resolve", [])]
    except ValueError:
        pass
    if pinned is not None:
        return None, [Finding(HOP, "skip", f"--resolve pins {host} to {pinned}: DNS not asked", [])]
    where = f"resolver {server[0]}:{server[1]}" if server else "the system resolver"
    try:
        answer = resolve(host, server, timeout)
    except DNSError as exc:
        return None, [
            Finding(HOP, "fail", f"cannot resolve {host}: {exc}", [f"asked {where}"],
                    "Check the resolver address (--resolver HOST:PORT) and the network.")
        ]  # fmt: skip
    evidence = [f"asked {where} for {host}"]
    if answer.cnames:
        evidence.append(f"CNAME {' -> '.join(answer.cnames)}")
    evidence.append(f"A: {', '.join(answer.a) or 'none'}; AAAA: {', '.join(answer.aaaa) or 'none'}")
    if answer.nxdomain or not answer.addresses:
        what = "does not exist (NXDOMAIN)" if answer.nxdomain else "has no A or AAAA record"
        return answer, [
            Finding(
                HOP,
                "fail",
                f"{host} {what}: no crawler can reach it",
                evidence,
                f"Create the record at your DNS provider: {host}. A <the proxy's public IPv4>"
                " (and AAAA for IPv6); check the name for typos, and wait for the TTL.",
            )
        ]
    if not answer.a:
        return answer, [
            Finding(
                HOP,
                "fail",
                f"{host} has an AAAA record only (IPv6): IPv4-only clients and crawlers cannot "
                "connect",
                evidence,
                f"Add an A record for {host} with the proxy's public IPv4 address.",
            )
        ]
    private = [a for a in answer.addresses if _private(a)]
    if private and not local:
        return answer, [
            Finding(
                HOP,
                "fail",
                f"{host} resolves to a private address ({', '.join(private)}): unreachable from "
                "the internet",
                evidence,
                "Publish the proxy's public address in public DNS (keep private addresses in "
                "split-horizon/internal DNS only), or run with --local to check a set-up that "
                "is not public yet.",
            )
        ]
    note = " (local mode: private addresses accepted)" if private else ""
    return answer, [Finding(HOP, "pass", f"{host} resolves{note}", evidence)]
