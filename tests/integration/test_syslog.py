"""Syslog reception by the real `sightline` binary, with senders nobody here wrote:
Python's `logging.handlers.SysLogHandler` over UDP and TCP, util-linux's `logger`
(RFC 5424 with octet counting, RFC 3164 over UDP), and rsyslog forwarding what it
receives to Sightline over TCP in RFC 5424."""

from __future__ import annotations

import logging
import logging.handlers
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from conftest import free_ports
from processes import ManagedProcess, track


def syslog_server(sightline, **extra):
    udp, tcp = free_ports(2)
    config = {"syslog": {"udp_address": f"127.0.0.1:{udp}", "tcp_address": f"127.0.0.1:{tcp}", **extra}}
    return sightline(config=config).start(), udp, tcp


def wait_for(server, predicate, what: str, timeout: float = 30.0, token: str | None = None) -> list[dict]:
    """Polls the stored log records until `predicate(records)` holds."""
    deadline = time.monotonic() + timeout
    records: list[dict] = []
    while time.monotonic() < deadline:
        records = server.records("logs", token=token)
        if predicate(records):
            return records
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; stored bodies: {[r['body'] for r in records][:20]}")


def python_logger(name: str, handler: logging.Handler) -> logging.Logger:
    log = logging.getLogger(name)
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    return log


def test_python_sysloghandler_udp_and_tcp(sightline):
    server, udp, tcp = syslog_server(sightline)
    tag = uuid.uuid4().hex[:8]
    udp_handler = logging.handlers.SysLogHandler(address=("127.0.0.1", udp), facility="local3")
    tcp_handler = logging.handlers.SysLogHandler(address=("127.0.0.1", tcp), socktype=socket.SOCK_STREAM)
    try:
        python_logger("checkout", udp_handler).error("udp payment failed %s", tag)
        python_logger("checkout", udp_handler).info("udp info %s", tag)
        tcp_log = python_logger("billing", tcp_handler)
        for i in range(50):
            tcp_log.warning("tcp line %d %s", i, tag)
    finally:
        udp_handler.close()
        tcp_handler.close()

    records = wait_for(server, lambda rs: sum(tag in r["body"] for r in rs) == 52, "52 syslog lines")
    by_body = {r["body"]: r for r in records}
    failed = by_body[f"udp payment failed {tag}"]
    assert failed["severityText"] == "err"
    assert failed["severityNumber"] == 17
    assert failed["attributes"]["syslog.facility"] == "local3"
    assert failed["stream"] == {"app": "checkout", "host": "127.0.0.1", "source": "syslog", "service_name": "checkout"}
    assert by_body[f"udp info {tag}"]["severityText"] == "info"
    tcp_lines = [r for r in records if r["body"].startswith("tcp line")]
    assert sorted(int(r["body"].split()[2]) for r in tcp_lines) == list(range(50))
    assert all(r["severityText"] == "warning" and r["stream"]["app"] == "billing" for r in tcp_lines)


def test_logger_rfc5424_octet_counting_and_rfc3164(sightline):
    logger = shutil.which("logger")
    assert logger, "util-linux logger is not installed (scripts/test installs bsdutils)"
    server, udp, tcp = syslog_server(sightline, tenant="default")
    subprocess.run([logger, "--server", "127.0.0.1", "--port", str(tcp), "--tcp", "--octet-count", "--rfc5424",
                    "--tag", "orders", "--id=4242", "--msgid", "ORD1", "--priority", "auth.crit",
                    "--sd-id", "meta@32473", "--sd-param", 'customer="c-17"', "order 17 rejected"], check=True, timeout=30)
    subprocess.run([logger, "--server", "127.0.0.1", "--port", str(udp), "--udp", "--rfc3164",
                    "--tag", "cron", "--priority", "cron.notice", "nightly job done"], check=True, timeout=30)

    records = wait_for(server, lambda rs: {"order 17 rejected", "nightly job done"} <= {r["body"] for r in rs},
                       "both logger messages")
    by_body = {r["body"]: r for r in records}
    order = by_body["order 17 rejected"]
    assert order["severityText"] == "crit"
    assert order["attributes"]["syslog.facility"] == "auth"
    assert order["attributes"]["syslog.procid"] == "4242"
    assert order["attributes"]["syslog.msgid"] == "ORD1"
    assert order["attributes"]["syslog.sd.meta@32473.customer"] == "c-17"
    assert order["stream"]["app"] == "orders"
    assert order["stream"]["host"] == socket.gethostname()
    # logger writes the time with microseconds; it is the message's, not the arrival's.
    assert int(order["timeUnixNano"]) <= int(order["observedTimeUnixNano"])
    cron = by_body["nightly job done"]
    assert cron["severityText"] == "notice"
    assert cron["stream"]["app"] == "cron"


class Rsyslog(ManagedProcess):
    """rsyslogd in the foreground with its own config: UDP in, RFC 5424 over octet-counted TCP out."""

    def __init__(self, directory, listen_port: int, target_port: int):
        self.directory = directory
        self.listen_port = listen_port
        work = directory / "work"
        work.mkdir()
        self.config = directory / "rsyslog.conf"
        self.config.write_text(f"""
global(workDirectory="{work}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{listen_port}")
action(type="omfwd" target="127.0.0.1" port="{target_port}" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
       action.resumeRetryCount="-1" queue.type="LinkedList")
""")
        self.log = open(directory / "rsyslogd.log", "wb")
        self.proc = subprocess.Popen(
            [shutil.which("rsyslogd") or "rsyslogd", "-n", "-f", str(self.config), "-i", str(directory / "rsyslogd.pid")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        track(self.proc)

    def cleanup(self) -> None:
        super().cleanup()
        self.log.close()


def test_rsyslog_forwards_to_sightline(sightline, tmp_path):
    assert shutil.which("rsyslogd"), "rsyslog is not installed (scripts/test installs it)"
    server, _, tcp = syslog_server(sightline)
    (listen_port,) = free_ports(1)
    rsyslog = Rsyslog(tmp_path, listen_port, tcp)
    try:
        tag = uuid.uuid4().hex[:8]
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        expected = set()
        # rsyslog may need a moment to open its UDP input: send until the first line arrives, then the rest.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sender.sendto(f"<30>Nov 26 10:00:00 app-host payments[9]: warmup {tag}".encode(), ("127.0.0.1", listen_port))
            if any(f"warmup {tag}" in r["body"] for r in server.records("logs")):
                break
            time.sleep(0.3)
        else:
            pytest.fail("rsyslog forwarded nothing within 30 s:\n" + (tmp_path / "rsyslogd.log").read_text(errors="replace"))
        for i in range(200):
            line = f"relayed {i} {tag}"
            expected.add(line)
            sender.sendto(f"<27>Nov 26 10:00:01 app-host payments[9]: {line}".encode(), ("127.0.0.1", listen_port))
            if i % 50 == 49:
                time.sleep(0.05)  # UDP into rsyslog is lossy under bursts; the hop under test is rsyslog → Sightline.
        sender.close()
        records = wait_for(server, lambda rs: len(expected & {r["body"] for r in rs}) >= 190, "rsyslog's relayed lines")
        relayed = [r for r in records if r["body"] in expected]
        assert len({r["body"] for r in relayed}) == len(relayed), "a line was stored twice"
        sample = relayed[0]
        assert sample["severityText"] == "err"
        assert sample["attributes"]["syslog.facility"] == "daemon"
        assert sample["attributes"]["syslog.version"] == 1
        assert sample["stream"] == {"app": "payments", "host": "app-host", "source": "syslog", "service_name": "payments"}
    finally:
        rsyslog.cleanup()


def test_syslog_tenant_and_malformed_frames(sightline):
    udp, tcp = free_ports(2)
    server = sightline("syslog-tenant", config={
        "syslog": {"tcp_address": f"127.0.0.1:{tcp}", "tenant": "ops"},
        "auth": {"tokens": [{"token": "ops-token", "tenant": "ops", "roles": ["query"]},
                            {"token": "other-token", "tenant": "other", "roles": ["query"]}]},
    }).start()
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as connection:
        connection.sendall(b"<13>good line\n\n<13>second good line\n")
    # A broken octet count closes only that connection; the server keeps serving.
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as connection:
        connection.sendall(b"12x <13>broken\n")
        assert connection.recv(16) == b"", "the connection with a broken frame should be closed"
    with socket.create_connection(("127.0.0.1", tcp), timeout=10) as connection:
        connection.sendall(b"<13>after the broken one\n")
    records = wait_for(server, lambda rs: {"good line", "second good line", "after the broken one"} <= {r["body"] for r in rs},
                       "the ops tenant's lines", token="ops-token")
    assert not [r for r in records if "broken" in r["body"] and "after" not in r["body"]]
    assert server.records("logs", token="other-token") == []
