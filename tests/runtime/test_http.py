"""The HTTP server as a client sees it: health, metrics, routing errors,
keep-alive, pipelining, bodies, limits and their answers, timeouts, the
connection cap, graceful shutdown and reload."""

import json
import os
import signal
import socket
import subprocess
import time
import unittest

from irdtest import IRD, Ird, IrdTestCase, is_closed, read_response, read_responses, stop_shared

# A source that authenticates and reads the body, then answers 204 without
# touching the store: lets these tests exercise bodies and limits alone.
DISCARD = """
sources = { sink = { type = "discard"; auth = "none"; }; };
"""

LIMITS = """
limits = { header_bytes = 2048; header_count = 20; url_bytes = 512; body_bytes = 4096;
           read_timeout = "400ms"; idle_timeout = "600ms"; max_connections = 8; };
"""


class HttpTest(IrdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.ird = Ird(DISCARD + LIMITS).start()

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)

    def test_health_ready_metrics_on_both_listeners(self):
        for listener in ("webhooks", "api"):
            status, headers, body = self.ird.request("GET", "/healthz", listener=listener)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body), {"status": "ok"})
            status, _, body = self.ird.request("GET", "/readyz", listener=listener)
            self.assertEqual((status, json.loads(body)), (200, {"status": "ready"}))
        status, headers, body = self.ird.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        self.assertIn("# TYPE ird_build_info gauge", text)
        self.assertIn("# HELP ird_http_requests_total", text)
        self.assertIn('ird_http_requests_total{listener="webhooks",route="healthz",code="200"}', text)
        self.assertIn("# TYPE ird_http_request_duration_seconds histogram", text)
        self.assertIn('ird_http_request_duration_seconds_bucket{listener="api",route="readyz",le="+Inf"}', text)
        self.assertIn("ird_http_open_connections ", text)

    def test_access_log_line(self):
        start = len(self.ird.drain_logs())
        self.ird.request("GET", "/healthz?token=secret-in-query")
        line = self.ird.wait_log(lambda l: l.get("msg") == "request" and l.get("path") == "/healthz",
                                 start=start)
        self.assertEqual(line["method"], "GET")
        self.assertEqual(line["status"], 200)
        self.assertIsInstance(line["us"], int)
        self.assertGreater(line["bytes"], 0)
        self.assertNotIn("secret-in-query", json.dumps(self.ird.log_lines[start:]))

    def test_unknown_path_404_and_wrong_method_405(self):
        status, _, body = self.ird.request("GET", "/nope")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["error"], "not found")
        status, headers, body = self.ird.request("DELETE", "/healthz")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET")
        self.assertEqual(json.loads(body)["error"], "method not allowed")
        # The alert route lives on the webhooks listener only.
        status, _, _ = self.ird.request("POST", "/v1/alerts/sink", body=b"{}", listener="api")
        self.assertEqual(status, 404)

    def test_keep_alive_and_pipelining_in_order(self):
        s = self.ird.raw()
        try:
            reqs = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"POST /v1/alerts/sink HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
                    b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.sendall(reqs)
            got = read_responses(s, 4)
            self.assertEqual([g[0] for g in got], [200, 404, 204, 200])
            self.assertEqual(json.loads(got[3][2]), {"status": "ready"})
            # Still open: another request on the same connection.
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(read_response(s)[0], 200)
        finally:
            s.close()

    def test_content_length_chunked_and_expect_continue(self):
        s = self.ird.raw()
        try:
            s.sendall(b"POST /v1/alerts/sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            self.assertEqual(read_response(s)[0], 204)
            s.sendall(b"POST /v1/alerts/sink HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            status, _, _, rest = read_response(s)
            self.assertEqual(status, 100)
            s.sendall(b"0123456789")
            self.assertEqual(read_response(s, pending=rest)[0], 204)
        finally:
            s.close()

    def test_body_over_limit_413_before_it_is_read(self):
        s = self.ird.raw()
        try:
            # Only the headers: ird must answer without waiting for 1 MB.
            s.sendall(b"POST /v1/alerts/sink HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            status, headers, body, _ = read_response(s, timeout=3)
            self.assertEqual(status, 413)
            self.assertEqual(json.loads(body), {"error": "body too large",
                                                "detail": "the request body is larger than the limit"})
            self.assertEqual(headers["connection"], "close")
        finally:
            s.close()
        s = self.ird.raw()
        try:
            chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
            s.sendall(b"POST /v1/alerts/sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      + chunk + chunk)
            status, _, body, _ = read_response(s)
            self.assertEqual(status, 413)
        finally:
            s.close()

    def test_expect_continue_over_limit_gets_413_not_100(self):
        s = self.ird.raw()
        try:
            s.sendall(b"POST /v1/alerts/sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            self.assertEqual(read_response(s)[0], 413)
        finally:
            s.close()

    def test_header_limits_431(self):
        s = self.ird.raw()
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n")
            status, _, body, _ = read_response(s)
            self.assertEqual(status, 431)
            self.assertEqual(json.loads(body)["detail"], "the request headers are larger than the limit")
        finally:
            s.close()
        s = self.ird.raw()
        try:
            many = b"".join(b"X-H%d: v\r\n" % i for i in range(25))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
            status, _, body, _ = read_response(s)
            self.assertEqual(status, 431)
            self.assertEqual(json.loads(body)["detail"], "the request has more headers than the limit")
        finally:
            s.close()

    def test_long_url_414(self):
        status, _, body = self.ird.request("GET", "/healthz?" + "a" * 600)
        self.assertEqual(status, 414)
        self.assertEqual(json.loads(body)["error"], "uri too long")

    def test_malformed_request_400_and_closed(self):
        for garbage in (b"HELLO\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                        b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n"):
            s = self.ird.raw()
            try:
                s.sendall(garbage)
                status, headers, body, _ = read_response(s)
                self.assertEqual(status, 400, garbage)
                self.assertEqual(json.loads(body)["error"], "bad request")
                self.assertTrue(is_closed(s))
            finally:
                s.close()
        # And the daemon is fine.
        self.assertEqual(self.ird.request("GET", "/healthz")[0], 200)

    def test_slow_client_408(self):
        s = self.ird.raw()
        try:
            s.sendall(b"POST /v1/alerts/sink HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
            t0 = time.time()
            status, headers, body, _ = read_response(s, timeout=5)
            self.assertEqual(status, 408)
            self.assertLess(time.time() - t0, 2.5)
            self.assertEqual(json.loads(body)["error"], "request timeout")
            self.assertTrue(is_closed(s))
        finally:
            s.close()

    def test_idle_keep_alive_closed(self):
        s = self.ird.raw()
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(read_response(s)[0], 200)
            t0 = time.time()
            self.assertTrue(is_closed(s, timeout=3))
            self.assertGreater(time.time() - t0, 0.3)
        finally:
            s.close()

    def test_connection_cap_503(self):
        held = []
        try:
            for _ in range(8):
                c = self.ird.raw()
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(read_response(c)[0], 200)
                held.append(c)
            extra = self.ird.raw()
            held.append(extra)
            status, headers, body, _ = read_response(extra)
            self.assertEqual(status, 503)
            self.assertEqual(headers["retry-after"], "1")
            self.assertEqual(json.loads(body)["detail"], "too many open connections")
        finally:
            for c in held:
                c.close()
        time.sleep(0.2)
        self.assertEqual(self.ird.request("GET", "/healthz")[0], 200)


class HttpEdgeTest(IrdTestCase):
    """Half-closes, Upgrade headers, and what the log shows of refused requests."""

    @classmethod
    def setUpClass(cls):
        cls.ird = Ird(DISCARD + LIMITS).start()

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)

    def test_half_close_still_gets_every_answer(self):
        s = self.ird.raw()
        try:
            s.sendall(b"POST /v1/alerts/sink HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
                      b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            got = read_responses(s, 2)
            self.assertEqual([g[0] for g in got], [204, 200])
            self.assertTrue(is_closed(s))
        finally:
            s.close()

    def test_upgrade_header_is_ignored(self):
        s = self.ird.raw()
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                      b"Upgrade: websocket\r\n\r\n")
            self.assertEqual(read_response(s)[0], 200)
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(read_response(s)[0], 200)
        finally:
            s.close()

    def test_refused_request_after_head_has_its_body(self):
        s = self.ird.raw()
        try:
            s.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:  # a HEAD answer: headers only
                data += s.recv(4096)
            head, rest = data.split(b"\r\n\r\n", 1)
            self.assertTrue(head.startswith(b"HTTP/1.1 200"))
            self.assertEqual(rest, b"")
            s.sendall(b"GET /" + b"a" * 600 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body, _ = read_response(s)
            self.assertEqual(status, 414)
            self.assertEqual(json.loads(body)["error"], "uri too long")
        finally:
            s.close()

    def test_refused_request_logs_no_query_string(self):
        start = len(self.ird.drain_logs())
        s = self.ird.raw()
        try:
            s.sendall(b"POST /v1/alerts/sink?token=SECRET-in-the-query HTTP/1.1\r\nHost: x\r\n"
                      b"X-Big: " + b"a" * 3000 + b"\r\n\r\n")
            self.assertEqual(read_response(s)[0], 431)
        finally:
            s.close()
        line = self.ird.wait_log(lambda l: l.get("msg") == "request" and l.get("status") == 431,
                                 start=start)
        self.assertEqual(line["path"], "/v1/alerts/sink")
        self.assertNotIn("SECRET", json.dumps(self.ird.drain_logs()[start:]))


class LifecycleTest(IrdTestCase):
    def test_sigterm_lets_a_request_in_flight_finish(self):
        with Ird(DISCARD) as ird:
            s = ird.raw()
            idle = ird.raw()
            s.sendall(b"POST /v1/alerts/sink HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
            time.sleep(0.2)
            ird.signal(signal.SIGTERM)
            ird.wait_log(lambda l: l.get("msg") == "stopping")
            # The idle connection is closed, new ones are refused...
            self.assertTrue(is_closed(idle))
            time.sleep(0.1)
            with self.assertRaises(OSError):
                socket.create_connection(Ird.hostport(ird.webhooks), timeout=2).recv(1)
            # ...and the request that had begun completes.
            s.sendall(b"56789")
            status, headers, _, _ = read_response(s)
            self.assertEqual(status, 204)
            self.assertEqual(headers["connection"], "close")
            s.close()
            idle.close()
            self.assertCleanExit(ird, ird.wait_exit())

    def test_sigint_stops_cleanly(self):
        with Ird() as ird:
            ird.signal(signal.SIGINT)
            self.assertCleanExit(ird, ird.wait_exit())

    def test_sighup_reload_good_then_bad(self):
        with Ird(DISCARD) as ird:
            self.assertEqual(ird.request("POST", "/v1/alerts/other", body=b"{}")[0], 404)
            ird.write_config(DISCARD.replace("sink = {", "other = { type = \"discard\"; auth = \"none\"; };\n sink = {"))
            start = len(ird.drain_logs())
            ird.signal(signal.SIGHUP)
            ird.wait_log(lambda l: l.get("msg") == "config reloaded", start=start)
            self.assertEqual(ird.request("POST", "/v1/alerts/other", body=b"{}")[0], 204)
            # A broken file: the old config stays, and the log says why.
            with open(ird.config, "a") as f:
                f.write("\nbogus_key = 1;\n")
            start = len(ird.drain_logs())
            ird.signal(signal.SIGHUP)
            line = ird.wait_log(lambda l: l.get("msg", "").startswith("reload failed"), start=start)
            self.assertIn("bogus_key: unknown key", line["problem"])
            self.assertIn(ird.config + ":", line["problem"])
            self.assertEqual(ird.request("POST", "/v1/alerts/other", body=b"{}")[0], 204)
            self.assertCleanExit(ird, ird.stop())

    def test_state_dir_not_writable_is_a_clear_error(self):
        ird = Ird()
        try:
            # A state_dir below a regular file can never be created.
            blocker = os.path.join(ird.tmp.name, "file")
            open(blocker, "w").close()
            with open(ird.config) as f:
                text = f.read()
            with open(ird.config, "w") as f:
                f.write(text.replace('state_dir = "%s"' % ird.state, 'state_dir = "%s/sub"' % blocker))
            ird.proc = subprocess.Popen([IRD, "serve", "-c", ird.config], stderr=subprocess.PIPE,
                                        env=ird.env)
            self.assertEqual(ird.wait_exit(), 1)
            msgs = [l for l in ird.log_lines if l.get("msg") == "cannot open the state store"]
            self.assertTrue(msgs, ird.log_lines)
            self.assertEqual(msgs[0]["reason"],
                             "state_dir %s/sub: cannot create: Not a directory" % blocker)
        finally:
            ird.kill()
            ird.tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
