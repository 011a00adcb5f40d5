"""The local keyless stack: the GitHub-like OIDC token service, real Fulcio trusting it and,
when asked for, a real Rekor v1 transparency log (which needs MariaDB and Trillian)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from k1s0_stack.fulcio import Fulcio
from k1s0_stack.oidc import OidcService
from k1s0_stack.rekor import Rekor


@dataclass
class LocalSigstore:
    oidc: OidcService
    fulcio: Fulcio
    trusted_root_path: Path
    rekor: Rekor | None = None

    @property
    def oidc_url(self) -> str:
        return self.oidc.issuer

    @property
    def fulcio_url(self) -> str:
        return self.fulcio.url

    @property
    def rekor_url(self) -> str:
        """Rekor's URL, or a closed port when the stack has no transparency log."""
        return self.rekor.url if self.rekor else "http://127.0.0.1:9"

    def issue_env(self, claims: Mapping[str, str]) -> dict[str, str]:
        """ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN for a job whose tokens carry `claims`."""
        return self.oidc.issue_env(claims)

    def stop(self) -> None:
        if self.rekor:
            self.rekor.stop()
        self.fulcio.stop()
        self.oidc.stop()


def start_sigstore(data_dir: Path, with_rekor: bool = False) -> LocalSigstore:
    oidc = OidcService().start()
    stack = LocalSigstore(oidc, Fulcio(data_dir, oidc.issuer), data_dir / "trusted_root.json")
    try:
        stack.fulcio.start()
        if with_rekor:
            stack.rekor = Rekor(data_dir / "rekor").start()
        tlogs = [stack.rekor.trusted_tlog()] if stack.rekor else []
        stack.fulcio.write_trusted_root(stack.trusted_root_path, tlogs)
    except BaseException:
        stack.stop()
        raise
    return stack
