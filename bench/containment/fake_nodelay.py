#!/usr/bin/python3
"""bench/containment/fake_nodelay.py: tests/fakes/k8s/fake_k8s.py as a script,
with TCP_NODELAY set on every accepted connection, and otherwise unchanged.

Why: http.server writes an answer's headers and its body in two send()s. With
Nagle's algorithm on (the default), the body waits until the client ACKs the
headers, and clients delay that ACK by up to 40 ms: every answer of the fake
then takes about 40 ms however fast ird is. This wrapper takes that artifact
out of the containment latencies; FAKE_NODELAY=0 in bench/containment/run
runs the fake as it is, to show it.

usage: fake_nodelay.py SOURCE_DIR FAKE-ARGS..."""

import os
import socket
import sys

sys.path.insert(0, os.path.join(sys.argv[1], "tests", "fakes", "k8s"))
import fake_k8s  # noqa: E402

_finish_request = fake_k8s._Server.finish_request


def finish_request(self, request, client_address):
    try:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    return _finish_request(self, request, client_address)


fake_k8s._Server.finish_request = finish_request

if __name__ == "__main__":
    sys.exit(fake_k8s.main(sys.argv[2:]))
