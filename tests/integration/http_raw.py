"""A raw-socket HTTP/1.1 POST for over-size bodies.

A server that rejects a too-large body answers 413 and may close the connection
while the client is still sending; `requests` then reports a broken pipe or a
reset instead of the answer. This sender watches for the answer between chunks
and stops sending as soon as one arrives, so the status can be read.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int | None  # None if no status line was received at all
    headers: dict
    body: bytes
    sent_bytes: int
    note: str


def post(host: str, port: int, path: str, body: bytes, headers: dict, *, chunked: bool = False,
         piece: int = 64 * 1024, timeout: float = 30.0) -> RawResponse:
    sock = socket.create_connection((host, port), timeout=timeout)
    note = ""
    sent = 0
    try:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        if chunked:
            framed = b"".join(f"{len(body[o:o + piece]):x}\r\n".encode() + body[o:o + piece] + b"\r\n"
                              for o in range(0, len(body), piece)) + b"0\r\n\r\n"
        else:
            framed = body
        view = memoryview(framed)
        deadline = time.monotonic() + timeout
        try:
            while sent < len(view):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    note = "send deadline"
                    break
                readable, writable, _ = select.select([sock], [sock], [], remaining)
                if readable:
                    # An answer (or EOF) before the body is complete: stop sending, read it.
                    note = f"server answered after {sent} of {len(view)} bytes"
                    break
                if writable:
                    sent += sock.send(view[sent:sent + piece])
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as e:
            note = f"send stopped after {sent} bytes: {e!r}"
        raw = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
                if _complete(raw):
                    break
        except (ConnectionResetError, socket.timeout) as e:
            note += f"; recv stopped: {e!r}"
    finally:
        sock.close()
    return _parse(raw, sent, note)


def _complete(raw: bytes) -> bool:
    if b"\r\n\r\n" not in raw:
        return False
    head, rest = raw.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(rest) >= int(v.strip())
        if k.strip().lower() == b"transfer-encoding" and b"chunked" in v.lower():
            return rest.endswith(b"0\r\n\r\n")
    return False


def _parse(raw: bytes, sent: int, note: str) -> RawResponse:
    if not raw.startswith(b"HTTP/"):
        return RawResponse(None, {}, raw, sent, note)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return RawResponse(status, headers, body, sent, note)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return out
