"""Real Rekor v1 on loopback: rekor-server over a Trillian log (log server + signer), whose tree and
Rekor's search index live in a private MariaDB (Debian's mariadb-server, run as a user process).

This is the transparency log cosign's legacy signature format uploads to. Rekor signs with an
in-memory key; its public key goes into the trusted root as a tlog so `cosign verify` checks the
signed entry timestamp without `--insecure-ignore-tlog`.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from k1s0_stack.process import CACHE, Service, free_port, tool, wait_for_port

TRILLIAN_SCHEMA = CACHE / "share" / "trillian" / "storage.sql"  # put there by go-tools.sh
DATABASE = "trillian"


def _mariadb_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise FileNotFoundError(f"{name} is missing: run scripts/setup.sh (mariadb-server)")
    return found


@dataclass
class MariaDB:
    data_dir: Path
    port: int = 0
    service: Service | None = None

    @property
    def dsn(self) -> str:
        """Go MySQL driver DSN; grant tables are skipped, so root needs no password."""
        return f"root@tcp(127.0.0.1:{self.port})/{DATABASE}"

    def start(self, timeout: float = 60.0) -> MariaDB:
        self.port = self.port or free_port()
        datadir = self.data_dir / "data"
        datadir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                _mariadb_tool("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        self.service = Service(
            "mariadbd",
            [
                _mariadb_tool("mariadbd"),
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={self.data_dir / 'mysqld.sock'}",
                f"--pid-file={self.data_dir / 'mysqld.pid'}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-grant-tables",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M",
                "--performance-schema=off",
            ],
            self.data_dir / "mariadb.log",
        ).start()
        wait_for_port(self.port, timeout)
        deadline = time.monotonic() + timeout
        while self.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}", check=False).returncode:
            self.service.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("mariadb did not accept connections")
            time.sleep(0.2)
        self.sql(TRILLIAN_SCHEMA.read_text(), database=DATABASE)
        return self

    def sql(
        self, statements: str, database: str = "", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            _mariadb_tool("mariadb"),
            "--no-defaults",
            "--protocol=tcp",
            "-h127.0.0.1",
            f"-P{self.port}",
            "-uroot",
        ]
        return subprocess.run(
            [*argv, *([database] if database else [])],
            input=statements,
            text=True,
            capture_output=True,
            check=check,
        )

    def stop(self) -> None:
        if self.service:
            self.service.stop(timeout=30)


@dataclass
class Rekor:
    data_dir: Path
    port: int = 0
    services: list[Service] = field(default_factory=list)
    database: MariaDB | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> Rekor:
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> Rekor:
        self.port = self.port or free_port()
        self.database = MariaDB(self.data_dir / "db").start()
        storage = ["--storage_system=mysql", f"--mysql_uri={self.database.dsn}"]
        trillian_rpc = free_port()
        self._run(
            "trillian_log_server",
            [
                *storage,
                "--quota_system=noop",
                f"--rpc_endpoint=127.0.0.1:{trillian_rpc}",
                f"--http_endpoint=127.0.0.1:{free_port()}",
            ],
        )
        self._run(
            "trillian_log_signer",
            [
                *storage,
                "--quota_system=noop",
                "--force_master",
                "--sequencer_interval=100ms",
                f"--rpc_endpoint=127.0.0.1:{free_port()}",
                f"--http_endpoint=127.0.0.1:{free_port()}",
            ],
        )
        wait_for_port(trillian_rpc, timeout)
        self._run(
            "rekor-server",
            [
                "serve",
                "--trillian_log_server.address=127.0.0.1",
                f"--trillian_log_server.port={trillian_rpc}",
                "--rekor_server.address=127.0.0.1",
                f"--port={self.port}",
                "--rekor_server.signer=memory",
                "--search_index.storage_provider=mysql",
                f"--search_index.mysql.dsn={self.database.dsn}",
                "--log_type=prod",
            ],
        )
        deadline = time.monotonic() + timeout
        while True:
            for service in self.services:
                service.check_alive()
            try:
                if requests.get(f"{self.url}/api/v1/log", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"rekor did not answer on {self.url}")
            time.sleep(0.2)

    def _run(self, name: str, args: list[str]) -> None:
        self.services.append(
            Service(name, [tool(name), *args], self.data_dir / f"{name}.log").start()
        )

    def public_key_pem(self) -> str:
        answer = requests.get(f"{self.url}/api/v1/log/publicKey", timeout=10)
        answer.raise_for_status()
        return answer.text

    def trusted_tlog(self) -> dict[str, Any]:
        """The trusted root's `tlogs` entry for this log: its key and log id (sha256 of the key)."""
        key = load_pem_public_key(self.public_key_pem().encode())
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise RuntimeError(f"rekor's signer is not ECDSA P-256: {key}")
        der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return {
            "baseUrl": self.url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": base64.b64encode(der).decode(),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": "2020-01-01T00:00:00Z"},
            },
            "logId": {"keyId": base64.b64encode(hashlib.sha256(der).digest()).decode()},
        }

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()
        if self.database:
            self.database.stop()
