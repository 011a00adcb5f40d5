"""An extra Docker engine for tests: its own data and exec roots, pid file and sockets, on
loopback only — a unix socket at a non-default path and, optionally, TCP with mutual TLS
(certificates made here with `cryptography`). Started the way scripts/dockerd.sh starts the
shared one (vfs, no iptables, no bridge), and stopped (with its managed containerd) afterwards.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import docker.utils
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from k1s0_action.engine import EngineClient
from k1s0_stack.process import Service, free_port


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey | None,
    usage: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if usage is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
        if usage == ExtendedKeyUsageOID.SERVER_AUTH:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                False,
            )
    return builder.sign(issuer_key or key, hashes.SHA256())


def make_tls(directory: Path) -> tuple[Path, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate. Returns (server dir,
    client dir); the client dir is laid out as DOCKER_CERT_PATH wants (ca, cert, key .pem)."""
    server, client = directory / "server", directory / "client"
    server.mkdir(parents=True)
    client.mkdir(parents=True)
    ca_key = _key()
    ca = _cert("k1s0 test CA", ca_key, None, None, None)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    for where, usage in ((server, ExtendedKeyUsageOID.SERVER_AUTH), (client, None)):
        key = _key()
        cert = _cert(
            "127.0.0.1" if where is server else "k1s0 test client",
            key,
            ca.subject,
            ca_key,
            usage or ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        (where / "ca.pem").write_bytes(ca_pem)
        (where / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(where / "key.pem", key)
    return server, client


@dataclass
class ExtraEngine:
    """A second dockerd. `env()` gives DOCKER_HOST (and the TLS variables) to reach it."""

    tls: bool = False
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="k1s0-dd-")))
    port: int = 0
    service: Service | None = None
    client_certs: Path | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    def env(self, over_tcp: bool = False) -> dict[str, str]:
        if not over_tcp:
            return {"DOCKER_HOST": f"unix://{self.socket}"}
        assert self.client_certs is not None, "started without tls"
        return {
            "DOCKER_HOST": f"tcp://127.0.0.1:{self.port}",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(self.client_certs),
        }

    def client(self, over_tcp: bool = False) -> docker.APIClient:
        return EngineClient(
            version="auto", **docker.utils.kwargs_from_env(environment=self.env(over_tcp))
        )

    def start(self, timeout: float = 120.0) -> ExtraEngine:
        argv = [
            shutil.which("dockerd") or "dockerd",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'dockerd.pid'}",
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            f"-H=unix://{self.socket}",
        ]
        if self.tls:
            server, self.client_certs = make_tls(self.root / "tls")
            self.port = free_port()
            argv += [
                f"-H=tcp://127.0.0.1:{self.port}",
                "--tlsverify",
                f"--tlscacert={server / 'ca.pem'}",
                f"--tlscert={server / 'cert.pem'}",
                f"--tlskey={server / 'key.pem'}",
            ]
        self.service = Service("dockerd", argv, self.root / "dockerd.log").start()
        deadline = time.monotonic() + timeout
        while True:
            self.service.check_alive()
            try:
                self.client().ping()
                return self
            except (docker.errors.DockerException, requests.RequestException, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"dockerd did not answer; see {self.root}/dockerd.log")
            time.sleep(0.3)

    def load_image(self, source: docker.APIClient, name: str) -> None:
        """Copies `name` from another engine (docker save | docker load)."""
        stream = source.get_image(name)
        self.client().load_image(b"".join(stream))

    def kill(self) -> None:
        """The engine goes away at once, as when a runner's Docker-in-Docker service dies."""
        if self.service and self.service.process:
            # dockerd and its managed containerd share the process group started for it.
            os.killpg(self.service.process.pid, signal.SIGKILL)
            self.service.process.wait(30)

    def _kill_leftovers(self) -> None:
        """A killed engine leaves its containers' shims (their own sessions) and what runs under
        them; they are found by this engine's paths on their command lines, and ended by pid."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                children = [
                    int(pid)
                    for task in (proc / "task").iterdir()
                    for pid in (task / "children").read_text().split()
                ]
            except OSError:
                continue
            if str(self.root) in cmdline:
                for pid in [*children, int(proc.name)]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.service:
            self.service.stop(timeout=30)
        # A killed dockerd leaves its managed containerd behind; it exits with its socket gone,
        # but stop it by its own pid file to be sure.
        pid_file = self.root / "exec" / "containerd" / "containerd.pid"
        if pid_file.exists():
            try:
                pid = int(pid_file.read_text().strip())
                subprocess.run(["kill", str(pid)], check=False, capture_output=True)
            except ValueError:
                pass
        self._kill_leftovers()
        # dockerd mounts its roots privately over themselves; a killed one leaves the mounts.
        for mounted in ("exec", "data"):
            subprocess.run(
                ["umount", "-R", str(self.root / mounted)], check=False, capture_output=True
            )
        shutil.rmtree(self.root, ignore_errors=True)
