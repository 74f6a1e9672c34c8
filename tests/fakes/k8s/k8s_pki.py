"""Throw-away PKI for the fake API server: a CA, a server certificate for 127.0.0.1/localhost and client
certificates (CN = user, O = groups), made with the openssl command line (argument lists, no shell).
"""

import os
import subprocess

_CONFIG = """[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
"""


def _subject_part(kind, value):
    escaped = "".join("\\" + ch if ch in "\\/+=," else ch for ch in value)
    return f"/{kind}={escaped}"


class Pki:
    """Files live in directory; ca_cert/server_cert/server_key are paths once the object is built."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self._config = os.path.join(directory, "openssl.cnf")
        with open(self._config, "w", encoding="ascii") as f:
            f.write(_CONFIG)
        self.ca_cert, self.ca_key = self._make("ca", "/CN=fake-k8s-ca", "ca_ext", signed=False)
        self.server_cert, self.server_key = self._make("server", "/CN=kube-apiserver", "server_ext")

    def _make(self, stem, subject, extensions, signed=True):
        cert, key = os.path.join(self.directory, stem + ".crt"), os.path.join(self.directory, stem + ".key")
        args = ["openssl", "req", "-x509", "-config", self._config, "-extensions", extensions,
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", cert, "-days", "7", "-subj", subject]
        if signed:
            args += ["-CA", self.ca_cert, "-CAkey", self.ca_key]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return cert, key

    def client_cert(self, user, groups=()):
        """Mint a client certificate for user (CN) and groups (O); returns (cert path, key path)."""
        subject = _subject_part("CN", user) + "".join(_subject_part("O", g) for g in groups)
        stem = "client-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in user)
        return self._make(stem, subject, "client_ext")
