"""The local keyless stack: the GitHub-like OIDC token service and real Fulcio trusting it.

No transparency log: see the signing note in the project report for why Rekor is not part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from k1s0_stack.fulcio import Fulcio
from k1s0_stack.oidc import OidcService


@dataclass
class LocalSigstore:
    oidc: OidcService
    fulcio: Fulcio
    trusted_root_path: Path

    @property
    def oidc_url(self) -> str:
        return self.oidc.issuer

    @property
    def fulcio_url(self) -> str:
        return self.fulcio.url

    def issue_env(self, claims: Mapping[str, str]) -> dict[str, str]:
        """ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN for a job whose tokens carry `claims`."""
        return self.oidc.issue_env(claims)

    def stop(self) -> None:
        self.fulcio.stop()
        self.oidc.stop()


def start_sigstore(data_dir: Path) -> LocalSigstore:
    oidc = OidcService().start()
    try:
        fulcio = Fulcio(data_dir, oidc.issuer).start()
    except BaseException:
        oidc.stop()
        raise
    trusted_root = fulcio.write_trusted_root(data_dir / "trusted_root.json")
    return LocalSigstore(oidc=oidc, fulcio=fulcio, trusted_root_path=trusted_root)
