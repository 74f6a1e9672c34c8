"""Helpers for runtime tests: start the real ird binary on ephemeral loopback
ports with a config written for the test, talk HTTP to it with raw sockets or
http.client, and stop it checking that it exited cleanly."""

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
import unittest

IRD = os.environ.get("IRD_BIN", "ird")
SOURCE_DIR = os.environ.get("IRD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures")

ADMIN_TOKEN = "admin-token-0123456789abcdef"
VIEWER_TOKEN = "viewer-token-0123456789abcdef"

BASE_CONFIG = """
listen = {{ webhooks = "127.0.0.1:0"; api = "127.0.0.1:0"; }};
state_dir = "{state}";
playbooks_dir = "{state}/playbooks";
log = {{ level = "debug"; format = "json"; }};
shutdown_timeout = "5s";
api = {{ tokens = (
  {{ name = "admin"; role = "admin"; token = "{admin}"; }},
  {{ name = "viewer"; role = "viewer"; token = "{viewer}"; }}
); }};
"""


class Ird:
    """One ird daemon process. The config is BASE_CONFIG plus `extra`."""

    def __init__(self, extra="", state=None, env=None, args=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="ird-test-")
        self.state = state or os.path.join(self.tmp.name, "state")
        os.makedirs(os.path.join(self.state, "playbooks"), exist_ok=True)
        self.config = os.path.join(self.tmp.name, "ird.conf")
        self.write_config(extra)
        self.env = dict(os.environ)
        self.env.update(env or {})
        # ASan: a leak or error makes the process exit non-zero.
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=87")
        self.args = list(args)
        self.proc = None
        self.log_lines = []
        self._partial = b""

    def write_config(self, extra):
        text = BASE_CONFIG.format(state=self.state, admin=ADMIN_TOKEN, viewer=VIEWER_TOKEN)
        with open(self.config, "w") as f:
            f.write(text + textwrap.dedent(extra))

    def start(self, timeout=15):
        if self.proc and self.proc.stderr:  # a restart: the old pipe is done
            self.proc.stderr.close()
        self.proc = subprocess.Popen([IRD, "serve", "-c", self.config] + self.args,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=self.env)
        # From this process's lines only: a restarted Ird has its old ones too.
        self._partial = b""
        line = self.wait_log(lambda l: l.get("msg") in ("listening",), timeout=timeout,
                             start=len(self.log_lines))
        self.webhooks = line["webhooks"]
        self.api = line["api"]
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        self.tmp.cleanup()

    # -- logs -----------------------------------------------------------------
    def _read_logs(self, timeout):
        """Read what stderr has within timeout; parse JSON lines."""
        if not self.proc or not self.proc.stderr:
            return
        r, _, _ = select.select([self.proc.stderr], [], [], timeout)
        if not r:
            return
        chunk = os.read(self.proc.stderr.fileno(), 65536)
        if not chunk:
            time.sleep(min(timeout, 0.01))
            return
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", "replace")
            try:
                self.log_lines.append(json.loads(text))
            except ValueError:
                self.log_lines.append({"msg": "(raw)", "text": text})

    def wait_log(self, pred, timeout=10, start=0):
        deadline = time.time() + timeout
        seen = start
        while True:
            for line in self.log_lines[seen:]:
                if pred(line):
                    return line
            seen = len(self.log_lines)
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("log line not seen; logs:\n" +
                                     "\n".join(json.dumps(l) for l in self.log_lines[-30:]))
            if self.proc.poll() is not None and not select.select([self.proc.stderr], [], [], 0)[0]:
                raise AssertionError("ird exited with %s; logs:\n%s" % (
                    self.proc.returncode, "\n".join(json.dumps(l) for l in self.log_lines[-30:])))
            self._read_logs(min(left, 0.1))

    def drain_logs(self, timeout=0.05):
        self._read_logs(timeout)
        return self.log_lines

    # -- process --------------------------------------------------------------
    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit code. Reads all remaining logs."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=20):
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            self._read_logs(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("ird did not exit within %ss" % timeout)
        rest = self.proc.stderr.read()
        if rest:
            self._partial += rest
        for raw in self._partial.split(b"\n"):
            if raw:
                text = raw.decode("utf-8", "replace")
                try:
                    self.log_lines.append(json.loads(text))
                except ValueError:
                    self.log_lines.append({"msg": "(raw)", "text": text})
        self._partial = b""
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()

    # -- HTTP -----------------------------------------------------------------
    @staticmethod
    def hostport(addr):
        host, port = addr.rsplit(":", 1)
        return host.strip("[]"), int(port)

    def conn(self, listener="webhooks", timeout=10):
        host, port = self.hostport(self.webhooks if listener == "webhooks" else self.api)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, listener="webhooks"):
        """One request on a fresh connection: (status, headers dict, body bytes)."""
        c = self.conn(listener)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = dict(headers or {})
                headers.setdefault("Content-Type", "application/json")
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def api_get(self, path, token=ADMIN_TOKEN):
        status, _, body = self.request("GET", path, headers={"Authorization": "Bearer " + token},
                                       listener="api")
        return status, json.loads(body) if body else None

    def raw(self, listener="webhooks", timeout=10):
        host, port = self.hostport(self.webhooks if listener == "webhooks" else self.api)
        s = socket.create_connection((host, port), timeout=timeout)
        return s


def read_response(sock, timeout=10, pending=b""):
    """Read one HTTP/1.1 response from a socket: (status, headers, body, rest),
    rest being bytes that arrived after it. ird always sends Content-Length."""
    sock.settimeout(timeout)
    data = pending
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response: %r" % data)
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def read_responses(sock, count, timeout=10):
    """Read count responses in order: [(status, headers, body)]."""
    out, pending = [], b""
    for _ in range(count):
        status, headers, body, pending = read_response(sock, timeout, pending)
        out.append((status, headers, body))
    return out


def is_closed(sock, timeout=3):
    """True if the peer closes the connection within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def run_ird(*args, env=None, input=None):
    """Run an ird command to completion: (exit code, stdout, stderr)."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([IRD] + list(args), capture_output=True, text=True, env=e, input=input,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def stop_shared(ird):
    """Stop the daemon a test class shared and remove its files; fail unless it
    exited 0 with no sanitizer report (for tearDownClass, which has no asserts)."""
    code = ird.stop()
    try:
        raw = "\n".join(l.get("text", "") for l in ird.log_lines if l.get("msg") == "(raw)")
        assert code == 0 and "Sanitizer" not in raw and "runtime error:" not in raw, \
            "ird exited %s:\n%s" % (code, raw)
    finally:
        ird.tmp.cleanup()


class IrdTestCase(unittest.TestCase):
    def assertCleanExit(self, ird, code):
        """ird exited 0 after closing its loop, with no sanitizer report."""
        raw = "\n".join(l.get("text", "") for l in ird.log_lines if l.get("msg") == "(raw)")
        self.assertNotIn("ERROR: AddressSanitizer", raw)
        self.assertNotIn("ERROR: LeakSanitizer", raw)
        self.assertNotIn("runtime error:", raw)
        self.assertEqual(code, 0, "exit code %s; raw stderr:\n%s" % (code, raw))
        self.assertTrue(any(l.get("msg") == "stopped" for l in ird.log_lines),
                        "no 'stopped' line: the loop did not close cleanly")


# -- helpers for the intake, API, crash and Alertmanager tests ----------------
def list_incidents(ird, query="", token=ADMIN_TOKEN):
    """Every incident the API lists for query (following cursors), newest first."""
    out, cursor = [], None
    for _ in range(1000):
        q = query + ("&" if query else "") + "limit=500" + ("&cursor=" + cursor if cursor else "")
        status, page = ird.api_get("/v1/incidents?" + q, token=token)
        if status != 200:
            raise AssertionError("GET /v1/incidents?%s: %s %s" % (q, status, page))
        out.extend(page["incidents"])
        cursor = page["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("cursor chain does not end")


def metric_value(ird, name, labels=""):
    """The value of one sample from /metrics (webhooks listener), or 0 when absent."""
    status, _, body = ird.request("GET", "/metrics")
    if status != 200:
        raise AssertionError("/metrics answered %s" % status)
    want = name + ("{" + labels + "}" if labels else "")
    for line in body.decode().splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == want:
            return float(value)
    return 0.0


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
