"""`server.redis.tls` and `tls_ca_file` against a real `redis-server` serving TLS only (`--port 0 --tls-port`),
with a CA and a server certificate generated here. The gateway admits and bills through it; one that does
not trust the CA cannot reach the counters (503 in closed mode), so the certificate is checked."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.scale.gateways import Replicas, build, free_port, replica_set
from tests.scale.topology import Nodes, _start, _until, have_redis

pytestmark = pytest.mark.skipif(not have_redis(), reason="needs redis-server")
SPEC = """\
version: 1
server:
  require_key: true
  state: redis
  redis: {{mode: single, url_env: GW_REDIS_URL, tls: true{ca}}}
providers:
  mock: {{type: mock}}
models:
  echo: {{target: mock/echo, pricing: {{input: 5, output: 20}}}}
virtual_keys:
  - {{name: {name}, key_env: GW_KEY, budget: {{max_usd: 1, period: never}}}}
cache: {{mode: off}}
observability: {{log_store: none}}
"""
KEY = f"sk-bfc-tls-{uuid.uuid4().hex}"
BODY = {"model": "echo", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed: (ca.pem, server.pem, server.key)."""
    directory.mkdir(parents=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("bifrostc test CA"))
        .issuer_name(_name("bifrostc test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    paths[2].write_bytes(pem)
    return paths


def _client(port: int, ca: Path) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(ca), socket_timeout=2)


@contextlib.contextmanager
def _tls_redis(tmp: Path) -> Iterator[tuple[int, Path]]:
    ca, cert, key = _certificates(tmp / "pki")
    port = free_port()
    nodes = Nodes([port])
    tls = ["--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca)]
    try:
        # `--port 0` after _start's own `--port`: no plain-text listener, TLS only on the port
        _start(nodes, port, tmp / "redis", "--port", "0", "--tls-port", str(port), *tls, "--tls-auth-clients", "no")
        _until("redis over TLS", lambda: _client(port, ca).ping())
        yield port, ca
    finally:
        nodes.close()


def _ask(url: str) -> httpx.Response:
    return httpx.post(f"{url}/anthropic/v1/messages", json=BODY, headers={"x-api-key": KEY}, timeout=10)


def test_tls_to_redis_with_the_ca_the_spec_names(tmp_path: Path) -> None:
    name = f"tls-{uuid.uuid4().hex[:8]}"
    with _tls_redis(tmp_path) as (port, ca):
        with pytest.raises((redis.ConnectionError, ssl.SSLError)):  # the node speaks TLS only
            redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping()
        results = {}
        for trusted in (True, False):
            spec = tmp_path / f"gateway-{trusted}.yaml"
            spec.write_text(SPEC.format(name=name, ca=f", tls_ca_file: {ca}" if trusted else ""))
            out = tmp_path / f"out-{trusted}"
            build(spec, out)
            env = {"GW_REDIS_URL": f"redis://127.0.0.1:{port}/0", "GW_KEY": KEY}
            if trusted:
                with replica_set(out, 1, env, tmp_path / "trusted") as group:
                    results[trusted] = _ask(group.urls[0])
                continue
            stranger = Replicas(out, env, tmp_path / "stranger", [free_port()])
            try:
                stranger.start(stranger.ports[0])
                stranger.wait_ready(stranger.ports[0], probe="/health/live")  # never ready: it cannot reach Redis
                results[trusted] = _ask(stranger.urls[0])
            finally:
                stranger.close()
        counters = [k for k in _client(port, ca).scan_iter(f"*{name}*usd*") if b"holds" not in k]
        spent = sum(float(_client(port, ca).get(k) or 0) for k in counters)
    assert results[True].status_code == 200, results[True].text
    assert spent > 0
    assert results[False].status_code == 503
    assert results[False].json()["error"]["type"] == "api_error"
