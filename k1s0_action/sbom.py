"""Harbor's SBOM of the pushed digest (Harbor 2.11+): ask for it, wait for it like the scan, read
it, and tell which format it is. A Harbor (or scanner) without SBOM support answers the request
with 400, 404 or 422, or never shows an `sbom_overview`; that is a note, not a failure.

Harbor's shapes (swagger v2.15.2): `POST .../scan` with `{"scan_type": "sbom"}`; the artifact's
`sbom_overview` (`scan_status`, `sbom_digest`, `start_time`, `end_time`) with
`with_sbom_overview=true`; the SBOM is an accessory (type `harbor.sbom`) whose `sbom` addition
is the document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from k1s0_action.errors import HarborError
from k1s0_action.harbor import FINAL_STATUSES, HarborClient

UNSUPPORTED = (400, 404, 422)
POLL = 2.0
# Polls after which an artifact that still shows no sbom_overview means Harbor does not make one.
NO_OVERVIEW_POLLS = 5
Log = Callable[[str], None]


@dataclass(frozen=True)
class Sbom:
    kind: str  # cosign --type: spdxjson | cyclonedx
    digest: str  # the accessory's digest
    document: Mapping[str, Any]


@dataclass(frozen=True)
class SbomOutcome:
    sbom: Sbom | None
    note: str = ""  # why there is none


def sbom_kind(document: Mapping[str, Any]) -> str | None:
    if isinstance(document.get("spdxVersion"), str):
        return "spdxjson"
    if document.get("bomFormat") == "CycloneDX":
        return "cyclonedx"
    return None


def overview(artifact: Mapping[str, Any]) -> Mapping[str, Any] | None:
    found = artifact.get("sbom_overview")
    return found if isinstance(found, Mapping) and found.get("scan_status") else None


def fetch_sbom(
    client: HarborClient,
    project: str,
    repository: str,
    digest: str,
    timeout: float,
    log: Log,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> SbomOutcome:
    status = client.start_sbom(project, repository, digest)
    if status in UNSUPPORTED:
        return SbomOutcome(
            None,
            f"Harbor at {client.url} does not generate SBOMs ({status} to scan_type sbom; "
            "Harbor 2.11+ with a scanner that supports SBOM does); no SBOM attestation",
        )
    deadline = clock() + timeout
    polls = 0
    while True:
        artifact = client.artifact_with_sbom(project, repository, digest)
        polls += 1
        found = overview(artifact)
        if found is None and polls >= NO_OVERVIEW_POLLS and "sbom_overview" not in artifact:
            return SbomOutcome(
                None,
                f"Harbor at {client.url} accepted the SBOM request but shows no sbom_overview "
                "(a Harbor before 2.11); no SBOM attestation",
            )
        if found is not None and found.get("scan_status") in FINAL_STATUSES:
            break
        if clock() >= deadline:
            raise HarborError(
                f"Harbor's SBOM of {digest} was not ready within {timeout:.0f}s "
                "(input scan-timeout); nothing was promoted - re-run the job"
            )
        sleep(POLL)
    if found.get("scan_status") != "Success" or not found.get("sbom_digest"):
        raise HarborError(
            f"Harbor's SBOM generation for {digest} ended with status "
            f"{found.get('scan_status')}; re-run it in Harbor, then the job"
        )
    sbom_digest = str(found["sbom_digest"])
    document = client.sbom_document(project, repository, sbom_digest)
    kind = sbom_kind(document)
    if kind is None:
        raise HarborError(
            f"Harbor's SBOM {sbom_digest} is neither SPDX JSON nor CycloneDX JSON; "
            "re-run the SBOM generation in Harbor"
        )
    log(f"Harbor's SBOM of {digest}: {kind} ({sbom_digest})")
    return SbomOutcome(Sbom(kind, sbom_digest, document))
