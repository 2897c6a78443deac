"""What the Sightline-side benchmark drivers share: ports, /proc CPU time, sizes on disk, HTTP on loopback, timing,
and a `sightline server` process of the release build."""
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def du_bytes(path):
    if not os.path.exists(path):
        return 0
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out.strip() else 0


def request(base, method, path, body=None, headers=None, timeout=300):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def timed(fn, runs):
    """Median, min and max milliseconds of `runs` calls after one warm-up; and the last result."""
    fn()
    latencies, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        latencies.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(latencies), 1), "min_ms": round(min(latencies), 1),
            "max_ms": round(max(latencies), 1)}, result


class Server:
    def __init__(self, binary, data_dir, log_path, config_text=""):
        self.binary, self.data_dir, self.log_path = binary, data_dir, log_path
        self.config_text = config_text
        self.proc = None

    def start(self):
        self.http_port, self.grpc_port = free_ports(2)
        config = os.path.join(self.data_dir + ".yaml")
        with open(config, "w") as f:
            f.write(self.config_text)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([self.binary, "server", "--data-dir", self.data_dir, "--config", config,
                                          "--http-address", f"127.0.0.1:{self.http_port}",
                                          "--otlp-grpc-address", f"127.0.0.1:{self.grpc_port}", "--log-level", "warning"],
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.http_port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"sightline exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if request(self.url, "GET", "/-/ready", timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"sightline not ready; see {self.log_path}")

    def stop(self):
        """SIGTERM and wait (at most 300 s) for the graceful shutdown; `exit_cpu_seconds` is then the CPU the process
        used over its whole life, its final persistence included (from wait4's resource usage)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.time() + 300
            while True:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    self.exit_cpu_seconds = usage.ru_utime + usage.ru_stime
                    return
                if time.time() > deadline:
                    raise SystemExit(f"sightline did not stop within 300 s; see {self.log_path}")
                time.sleep(0.05)

    def query(self, path, params):
        status, data = request(self.url, "GET", path + "?" + urllib.parse.urlencode(params))
        if status != 200:
            raise RuntimeError(f"Sightline {path} {params}: HTTP {status}: {data[:300]!r}")
        return json.loads(data)


def post_all(base, path, bodies, conns, content_type, ok_status, headers=None):
    """POSTs every body over `conns` keep-alive connections, each taking the next unsent body; returns the wall
    seconds and the failures (status and the start of the answer) of requests not answered with `ok_status`.
    `headers` are sent with every request besides the Content-Type."""
    u = urllib.parse.urlparse(base)
    index = {"next": 0}
    lock = threading.Lock()
    errors = []

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
        while True:
            with lock:
                i = index["next"]
                index["next"] += 1
            if i >= len(bodies):
                conn.close()
                return
            conn.request("POST", path, body=bodies[i], headers={"Content-Type": content_type, **(headers or {})})
            r = conn.getresponse()
            body = r.read()
            if r.status != ok_status:
                errors.append(f"{r.status} {body[:200]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, errors


def wait_until_stable(path, quiet_s=8, max_s=120):
    """Waits until the size of `path` has not changed for `quiet_s` seconds (a store done persisting), at most
    `max_s`; returns the size."""
    previous, stable_since, deadline = -1, time.time(), time.time() + max_s
    while time.time() < deadline:
        size = du_bytes(path)
        if size != previous:
            previous, stable_since = size, time.time()
        elif time.time() - stable_since > quiet_s:
            break
        time.sleep(1)
    return previous


def check(condition, message):
    if not condition:
        raise SystemExit("check failed: " + message)


def ratio(a, b):
    return f"{a / b:.2f}" if b else "n/a"
