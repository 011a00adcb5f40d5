"""Real Fulcio (scripts/go-tools.sh) with an ephemeral CA and no CT log, trusting the local OIDC
service as a `github-workflow` issuer, so it issues the same certificates as public Fulcio does for
GitHub Actions: SAN `https://github.com/<job_workflow_ref>` plus the workflow extensions.

The ephemeral CA lives only in the process; its root is read back from `/api/v2/trustBundle` into a
Sigstore `trusted_root.json` (the file cosign's `--trusted-root` takes for a private instance).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from k1s0_stack.process import Service, free_port, tool, wait_for_port

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"


def fulcio_config(issuer: str) -> dict[str, Any]:
    return {
        "OIDCIssuers": {
            issuer: {"IssuerURL": issuer, "ClientID": "sigstore", "Type": "github-workflow"}
        }
    }


def trusted_root(fulcio_url: str, chain_pem: list[str]) -> dict[str, Any]:
    """A trusted root with Fulcio's chain as its only authority: no Rekor, CT log or TSA keys."""
    certificates = [
        x509.load_pem_x509_certificate(pem.encode()) for pem in _split_pem("".join(chain_pem))
    ]
    start = min(cert.not_valid_before_utc for cert in certificates)
    return {
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [],
        "certificateAuthorities": [
            {
                "subject": {"organization": "k1s0-local", "commonName": "k1s0-local-fulcio"},
                "uri": fulcio_url,
                "certChain": {
                    "certificates": [
                        {"rawBytes": base64.b64encode(cert.public_bytes(Encoding.DER)).decode()}
                        for cert in certificates
                    ]
                },
                "validFor": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
            }
        ],
        "ctlogs": [],
        "timestampAuthorities": [],
    }


def _split_pem(text: str) -> list[str]:
    end = "-----END CERTIFICATE-----"
    return [part.strip() + "\n" + end + "\n" for part in text.split(end) if part.strip()]


@dataclass
class Fulcio:
    data_dir: Path
    issuer: str
    port: int = 0
    service: Service | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Fulcio:
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "fulcio-config.json"
        config.write_text(json.dumps(fulcio_config(self.issuer), indent=2))
        # Fulcio's one-port duplex mode panics registering metrics (v1.8.8), so HTTP and gRPC get
        # their own ports and the legacy gRPC socket a name of its own instead of the shared
        # default. The metrics port is the one thing fulcio binds on every interface.
        self.service = Service(
            "fulcio",
            [
                tool("fulcio"),
                "serve",
                "--ca=ephemeralca",
                "--ct-log-url=",
                f"--config-path={config}",
                "--host=127.0.0.1",
                f"--port={self.port}",
                "--grpc-host=127.0.0.1",
                f"--grpc-port={free_port()}",
                f"--legacy-unix-domain-socket=@k1s0-fulcio-{self.port}",
                f"--metrics-port={free_port()}",
                "--log_type=prod",
            ],
            self.data_dir / "fulcio.log",
        ).start()
        wait_for_port(self.port, timeout)
        deadline = time.monotonic() + timeout
        while True:
            self.service.check_alive()
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"fulcio did not become healthy on {self.url}")
            time.sleep(0.1)

    def chain_pem(self) -> list[str]:
        response = requests.get(f"{self.url}/api/v2/trustBundle", timeout=10)
        response.raise_for_status()
        chains = response.json()["chains"]
        return [str(cert) for cert in chains[0]["certificates"]]

    def write_trusted_root(self, path: Path) -> Path:
        path.write_text(json.dumps(trusted_root(self.url, self.chain_pem()), indent=2))
        return path

    def stop(self) -> None:
        if self.service:
            self.service.stop()
