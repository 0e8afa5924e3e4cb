"""TLS on the sidecar's listener, and mTLS: a client without a certificate signed by the configured CA is
refused during the handshake (certificates made with the machine's openssl for each run)."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from serve_helpers import lines, make_app, running

from rules_engine.serve.config import ListenConfig, SidecarConfig, TlsConfig

# openssl makes the test certificates; CI must have it (a skip there would hide the mTLS test).
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None and not os.environ.get("CI"),
                                reason="openssl is not installed")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _pki(d: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
             "-subj", "/CN=test-ca", cwd=d)
    for name, cn in (("server", "127.0.0.1"), ("client", "publisher")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)
        (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1\n" if name == "server" else "extendedKeyUsage=clientAuth\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext", cwd=d)


def test_mtls(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    _pki(pki)
    tls = TlsConfig(str(pki / "server.pem"), str(pki / "server.key"), str(pki / "ca.pem"), "required")
    cfg = SidecarConfig(listen=ListenConfig(tls=tls))
    app = make_app(tmp_path, cfg)
    with running(app, cfg) as url:
        assert url.startswith("https://")
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        ctx.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
        with httpx.Client(verify=ctx, timeout=10) as c:
            r = c.post(url + "/events", json={"type": "order.created"})
            assert r.status_code == 200 and r.json()["delivered"] == 1
        bare = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with httpx.Client(verify=bare, timeout=10) as c, pytest.raises((httpx.ConnectError, httpx.ReadError,
                                                                         httpx.RemoteProtocolError)):
            c.post(url + "/events", json={"type": "order.created"})
    assert len(lines(tmp_path / "out.jsonl")) == 1
