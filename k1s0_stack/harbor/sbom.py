"""SBOM generation as Harbor 2.11+ does it, with the same real Trivy as the scans.

`POST .../scan` with `{"scan_type": "sbom"}` starts a job; the artifact then shows
`sbom_overview` (swagger `SBOMOverview`: report_id, scan_status, start_time, end_time, duration,
sbom_digest, scanner) with `with_sbom_overview=true`. On success the SBOM is pushed into the same
repository as an OCI artifact whose `artifactType` is `application/vnd.goharbor.harbor.sbom.v1`,
one layer with the document (`application/spdx+json`, Harbor's default `sbom_media_types`) and
the image as `subject`, annotated `created-by: Harbor` (Harbor's src/pkg/scan/sbom); it is listed
as an accessory of type `harbor.sbom`, and its `sbom` addition is the document.

`enabled = False` makes this LocalHarbor answer like a Harbor without SBOM support (422);
`before_2_11 = True` like a Harbor before 2.11, which accepts the request (202, its scan API has no
scan type) and never shows an `sbom_overview`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import requests

from k1s0_stack.harbor.errors import HarborError
from k1s0_stack.harbor.records import Artifact
from k1s0_stack.harbor.service import Harbor, scannable
from k1s0_stack.harbor.store import now
from k1s0_stack.trivy import SCANNER, ImageRef, ScanError, run_trivy

SBOM_ARTIFACT_TYPE = "application/vnd.goharbor.harbor.sbom.v1"
ACCESSORY_TYPE = "harbor.sbom"
# Trivy --format, the layer media type and Harbor's description of each.
FORMATS = {
    "spdx-json": ("application/spdx+json", "SPDX JSON SBOM"),
    "cyclonedx": ("application/vnd.cyclonedx+json", "CycloneDX JSON SBOM"),
}
UNFINISHED = ("Pending", "Running")
EMPTY_CONFIG = b"{}"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"


def sbom_overview(artifact: dict[str, Any]) -> dict[str, Any] | None:
    job = artifact.get("sbom")
    if not job:
        return None
    shown: dict[str, Any] = {
        "report_id": job["report_id"],
        "scan_status": job["status"],
        "start_time": job["start_time"],
        "scanner": dict(SCANNER),
    }
    for key in ("end_time", "duration", "sbom_digest"):
        if job.get(key):
            shown[key] = job[key]
    return shown


class SbomGenerator:
    def __init__(
        self,
        harbor: Harbor,
        registry_url: Callable[[], str],
        registry_host: Callable[[], str],
        registry_auth: tuple[str, str],
        db: str | None = None,
        trivy_lock: threading.Lock | None = None,
    ) -> None:
        self.enabled = True
        self.before_2_11 = False
        self.format = "spdx-json"
        self._harbor = harbor
        self._registry_url = registry_url
        self._registry_host = registry_host
        self._registry_auth = registry_auth
        self._db = db
        self._lock = trivy_lock or threading.Lock()
        self._threads: list[threading.Thread] = []

    def request(self, artifact: dict[str, Any]) -> None:
        if not self.enabled:
            raise HarborError(422, "UNPROCESSABLE_ENTITY", "scan type sbom is not supported")
        if self.before_2_11:
            return
        if not scannable(cast(Artifact, artifact)):
            raise HarborError(
                422,
                "UNPROCESSABLE_ENTITY",
                "the configured scanner does not support media type "
                + artifact["manifest_media_type"],
            )
        if (artifact.get("sbom") or {}).get("status") in UNFINISHED:
            raise HarborError(409, "CONFLICT", "a previous sbom generation process is Pending")
        self._update(
            int(artifact["id"]), report_id=str(uuid.uuid4()), status="Pending", start_time=now()
        )
        thread = threading.Thread(target=self._run, args=(dict(artifact),), daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def stop(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)

    def document(self, artifact: dict[str, Any]) -> dict[str, Any] | None:
        found = artifact.get("sbom_document")
        return found if isinstance(found, dict) else None

    def _update(self, artifact_id: int, **fields: Any) -> None:
        with self._harbor.store.transaction() as data:
            # The SBOM job rides on the artifact's record as untyped extra keys.
            artifact = cast(dict[str, Any] | None, data["artifacts"].get(str(artifact_id)))
            if artifact is not None:
                artifact["sbom"] = {**(artifact.get("sbom") or {}), **fields}

    def _run(self, artifact: dict[str, Any]) -> None:
        started = datetime.now(UTC)
        self._update(int(artifact["id"]), status="Running")
        user, password = self._registry_auth
        image = ImageRef(
            registry=self._registry_host(),
            repository=artifact["repository"],
            digest=artifact["digest"],
            username=user,
            password=password,
        )
        fields: dict[str, Any]
        try:
            with self._lock:
                document = run_trivy(image, db=self._db, output_format=self.format)
            digest = self._push(artifact, document)
            fields = {"status": "Success", "sbom_digest": digest}
        except (ScanError, requests.RequestException) as error:
            fields = {"status": "Error", "log": str(error)}
        self._update(
            int(artifact["id"]),
            end_time=now(),
            duration=int((datetime.now(UTC) - started).total_seconds()),
            **fields,
        )

    def _blob(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        base = self._registry_url()
        started = requests.post(
            f"{base}/v2/{repository}/blobs/uploads/", auth=self._registry_auth, timeout=30
        )
        started.raise_for_status()
        location = started.headers["Location"]
        location = base + location if location.startswith("/") else location
        done = requests.put(
            location + ("&" if "?" in location else "?") + f"digest={digest}",
            data=data,
            auth=self._registry_auth,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        done.raise_for_status()
        return digest

    def _push(self, artifact: dict[str, Any], document: dict[str, Any]) -> str:
        """Pushes the SBOM accessory as Harbor does and records it; returns its digest."""
        repository = artifact["repository"]
        media_type, description = FORMATS[self.format]
        content = json.dumps(document).encode()
        created = now()
        manifest_type = "application/vnd.oci.image.manifest.v1+json"
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "artifactType": SBOM_ARTIFACT_TYPE,
            "config": {
                "mediaType": OCI_EMPTY,
                "digest": self._blob(repository, EMPTY_CONFIG),
                "size": len(EMPTY_CONFIG),
            },
            "layers": [
                {
                    "mediaType": media_type,
                    "digest": self._blob(repository, content),
                    "size": len(content),
                }
            ],
            "subject": {
                "mediaType": artifact["manifest_media_type"],
                "digest": artifact["digest"],
                "size": artifact.get("descriptor", {}).get("size", 0),
            },
            "annotations": {
                "created-by": "Harbor",
                "org.opencontainers.artifact.created": created,
                "org.opencontainers.artifact.description": description,
            },
        }
        body = json.dumps(manifest).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        pushed = requests.put(
            f"{self._registry_url()}/v2/{repository}/manifests/{digest}",
            data=body,
            auth=self._registry_auth,
            headers={"Content-Type": manifest_type},
            timeout=30,
        )
        pushed.raise_for_status()
        recorded, _ = self._harbor.record_push(
            repository,
            digest,
            digest,
            manifest_type,
            manifest,
            len(body) + len(EMPTY_CONFIG) + len(content),
            {},
            manifest_size=len(body),
        )
        with self._harbor.store.transaction() as data:
            stored = cast(dict[str, Any], data["artifacts"][str(recorded["id"])])
            stored["accessory_of"] = artifact["digest"]
            stored["accessory_type"] = ACCESSORY_TYPE
            stored["sbom_document"] = document
        return digest
