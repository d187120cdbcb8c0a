"""`server.tls`: `bifrostc serve --workers 2` answers https with the spec's certificate in every worker, and
the client verifies it against that certificate (a self-signed one made here for 127.0.0.1); plain http on
the same port gets no answer."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.serve_process import serve_spec

SPEC = """\
version: 1
server: {{port: {{port}}, tls: {{cert_file: {cert}, key_file: {key}}}}}
providers:
  mock: {{type: mock}}
models:
  echo: {{target: mock/echo}}
"""


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bifrostc test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.asyncio
async def test_workers_serve_https_with_the_spec_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    spec = SPEC.format(cert=cert, key=key)
    async with serve_spec(tmp_path, spec, {}, ["--workers", "2"], ready_s=90.0, ca_file=str(cert)) as served:
        assert served.url.startswith("https://")
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=cert), timeout=10.0) as client:
            for _ in range(4):  # new connections: the kernel spreads them over both workers
                answer = await client.get(f"{served.url}/health", headers={"connection": "close"})
                assert answer.status_code == 200
            body = {"model": "echo", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
            reply = await client.post(f"{served.url}/anthropic/v1/messages", json=body)
            assert reply.status_code == 200, reply.text
        async with httpx.AsyncClient(timeout=5.0) as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get(f"http://127.0.0.1:{served.port}/health")
        assert "https://127.0.0.1" in served.stderr()


def test_the_emitted_client_env_names_https(tmp_path: Path) -> None:
    from tests.integration.replicas import build

    cert, key = self_signed(tmp_path)
    spec_path = tmp_path / "gateway.yaml"
    spec_path.write_text(SPEC.format(cert=cert, key=key).replace("{port}", "8443"))
    build(spec_path, tmp_path / "out")
    assert "https://127.0.0.1:8443/anthropic" in (tmp_path / "out" / "env.sh").read_text()
