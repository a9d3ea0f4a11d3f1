"""A real DNS server on 127.0.0.1 (UDP, a free port) answering A/AAAA from a table.

What the doctor's ``--resolver`` talks to in the tests: a name in the table gets its
records, a name outside it NXDOMAIN (RFC 1035 §4.1.1 RCODE 3). The wire format is written
from RFC 1035 §4.1 here, independently of the doctor's client, so a bug on one side does
not hide one on the other.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from harness import LOOPBACK

#: name -> list of addresses (IPv4 go out as A, IPv6 as AAAA).
Table = dict[str, list[str]]


def _question(message: bytes) -> tuple[str, int, int]:
    """(name, qtype, offset after the question); queries carry no compression."""
    labels = []
    offset = 12
    while message[offset]:
        length = message[offset]
        labels.append(message[offset + 1 : offset + 1 + length].decode("ascii"))
        offset += 1 + length
    qtype = struct.unpack("!H", message[offset + 1 : offset + 3])[0]
    return ".".join(labels).lower(), qtype, offset + 5


def answer(message: bytes, table: Table) -> bytes:
    ident = message[:2]
    name, qtype, end = _question(message)
    question = message[12:end]
    if name not in table:
        # QR, RD, RA set; RCODE 3 (name error).
        return ident + struct.pack("!HHHHH", 0x8183, 1, 0, 0, 0) + question
    records = b""
    count = 0
    for address in table[name]:
        ip = ipaddress.ip_address(address)
        rtype = 1 if ip.version == 4 else 28
        if rtype != qtype:
            continue
        # Owner name as a pointer to the question's name at offset 12 (0xC00C).
        records += struct.pack("!HHHIH", 0xC00C, rtype, 1, 60, len(ip.packed)) + ip.packed
        count += 1
    return ident + struct.pack("!HHHHH", 0x8180, 1, count, 0, 0) + question + records


@contextmanager
def stub_resolver(table: Table) -> Iterator[str]:
    """Serve ``table`` until the block ends; yields ``127.0.0.1:PORT`` for --resolver."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                message, client = sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                sock.sendto(answer(message, table), client)
            except (IndexError, struct.error, UnicodeDecodeError):
                continue  # not a query we understand: no answer, as a server would drop it

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"{LOOPBACK}:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()
