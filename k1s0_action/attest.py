"""Signed evidence on the digest: `cosign attest` of the gate's scan (and Harbor's SBOM), and
`cosign verify-attestation` with the checks a deploy pipeline needs. The cosign edge for
attestations; it reuses signing.py's runner, private directory and flags.

The predicate is built in attestation.py (pure); this module reads what Harbor said, writes the
predicate into the private directory, runs cosign and verifies what it stored, with the same
identity, Fulcio, Rekor and trusted root as the signature.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from k1s0_action.attestation import (
    ATTESTATION_TYPES,
    GateRecord,
    RunIdentity,
    ScanEvidence,
    vuln_predicate,
    vuln_problems,
)
from k1s0_action.context import GitContext
from k1s0_action.credentials import Credentials
from k1s0_action.errors import SigningError
from k1s0_action.gate import GateResult, GateSettings
from k1s0_action.gha import Actions
from k1s0_action.harbor import HarborClient, parse_reports
from k1s0_action.retry import Backoff
from k1s0_action.sbom import fetch_sbom
from k1s0_action.signing import (
    Cosign,
    SigningSettings,
    SigstoreConfig,
    VerifyPolicy,
    _format_flags,
    _token,
    cosign_session,
    is_loopback,
    render,
    split_digest_ref,
    verify_argv,
    write_secret,
)


@dataclass(frozen=True)
class Attestation:
    kind: str  # cosign's --type: vuln | spdxjson | cyclonedx
    predicate_type: str
    reference: str  # where cosign stored it
    verify_command: str

    def output(self) -> dict[str, str]:
        return {
            "type": self.kind,
            "predicate-type": self.predicate_type,
            "reference": self.reference,
            "verify-command": self.verify_command,
        }


@dataclass(frozen=True)
class AttestResult:
    """What the attest step left on the digest, and what it could not do (said once)."""

    attestations: tuple[Attestation, ...] = ()
    notes: tuple[str, ...] = ()

    def outputs(self) -> dict[str, str]:
        return {"attestations": json.dumps([a.output() for a in self.attestations])}

    def summary_lines(self) -> list[str]:
        lines = ["### Attestations", ""]
        if self.attestations:
            lines += ["| Type | Predicate type | Stored at |", "|---|---|---|"]
            lines += [
                f"| {a.kind} | `{a.predicate_type}` | `{a.reference}` |" for a in self.attestations
            ]
            lines += ["", "Verify with:", "", "```sh"]
            lines += [a.verify_command for a in self.attestations]
            lines.append("```")
        lines += [f"> {note}" for note in self.notes]
        return lines


# -- pure ----------------------------------------------------------------------------------------


def attestation_reference(image_ref: str, signature_format: str) -> str:
    """Where cosign stores attestations: the `sha256-<hex>.att` tag (legacy), or the referrers
    fallback tag `sha256-<hex>` for bundles."""
    repository, digest = split_digest_ref(image_ref)
    tag = digest.replace(":", "-")
    return f"{repository}:{tag}.att" if signature_format == "legacy" else f"{repository}:{tag}"


def attest_argv(
    cosign: str,
    image_ref: str,
    kind: str,
    predicate_path: str,
    config: SigstoreConfig,
    token_path: str,
    allow_http: bool,
) -> list[str]:
    split_digest_ref(image_ref)
    if kind not in ATTESTATION_TYPES:
        raise SigningError(f"unknown attestation type {kind!r}")
    argv = [cosign, "attest", "--yes", *_format_flags(config)]
    argv += [f"--fulcio-url={config.fulcio_url}", f"--rekor-url={config.rekor_url}"]
    argv.append(f"--tlog-upload={'true' if config.tlog_upload else 'false'}")
    if config.trusted_root:
        argv.append(f"--trusted-root={config.trusted_root}")
    argv.append(f"--identity-token={token_path}")
    argv += [f"--type={kind}", f"--predicate={predicate_path}"]
    if allow_http:
        argv.append("--allow-http-registry")
    return [*argv, image_ref]


def verify_attestation_argv(
    cosign: str,
    image_ref: str,
    kind: str,
    policy: VerifyPolicy,
    config: SigstoreConfig,
    allow_http: bool,
) -> list[str]:
    base = verify_argv(cosign, image_ref, policy, config, allow_http)
    return [cosign, "verify-attestation", "--type", kind, *base[2:]]


def statements(output: str) -> list[dict[str, Any]]:
    """The in-toto statements in `cosign verify-attestation` output (one DSSE envelope a line)."""
    found: list[dict[str, Any]] = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            envelope = json.loads(line)
            payload = envelope.get("payload") if isinstance(envelope, dict) else None
            statement = json.loads(base64.b64decode(payload)) if isinstance(payload, str) else None
        except ValueError:
            continue
        if isinstance(statement, dict):
            found.append(statement)
    return found


def newest_predicate(
    found: Sequence[Mapping[str, Any]], predicate_type: str, digest: str
) -> Mapping[str, Any] | None:
    """The predicate of the attestation for this digest whose scan finished last."""
    candidates = []
    for statement in found:
        subjects = statement.get("subject") or []
        names_digest = any(
            isinstance(s, Mapping)
            and isinstance(s.get("digest"), Mapping)
            and s["digest"].get("sha256") == digest.removeprefix("sha256:")
            for s in subjects
        )
        predicate = statement.get("predicate")
        if (
            statement.get("predicateType") == predicate_type
            and names_digest
            and isinstance(predicate, Mapping)
        ):
            candidates.append(predicate)

    def finished(predicate: Mapping[str, Any]) -> str:
        metadata = predicate.get("metadata")
        return str(metadata.get("scanFinishedOn", "")) if isinstance(metadata, Mapping) else ""

    return max(candidates, key=finished, default=None)


def run_identity(context: GitContext) -> RunIdentity:
    uri = (
        f"{context.source_url}/actions/runs/{context.run_id}"
        if context.repository and context.run_id
        else ""
    )
    return RunIdentity(uri=uri, event_id=context.run_id)


# -- Harbor: what the gate judged ----------------------------------------------------------------


def scan_evidence(
    client: HarborClient, project: str, repository: str, digest: str, gated: GateResult
) -> ScanEvidence:
    """Harbor's report and scan times, read again; refused unless the findings are exactly the
    ones the gate judged (a rescan in between would attest something the gate never saw)."""
    body = client.vulnerability_report_body(project, repository, digest)
    artifact = client.get_artifact(project, repository, digest)
    overview = artifact.scan
    judged = {j.finding for j in gated.decision.judged} if gated.decision else set()
    if set(parse_reports(body).findings()) != judged:
        raise SigningError(
            f"Harbor's report for {digest} changed after the gate judged it (a rescan?); "
            "nothing was attested or promoted - re-run the job"
        )
    if overview is None or overview.start_time is None or overview.end_time is None:
        raise SigningError(
            f"Harbor's scan overview for {digest} has no start or end time to attest; "
            "re-run the scan in Harbor, then the job"
        )
    reports = tuple((mime, entry) for mime, entry in body.items() if isinstance(entry, Mapping))
    return ScanEvidence(reports=reports, started=overview.start_time, finished=overview.end_time)


# -- cosign -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Predicate:
    kind: str
    body: Mapping[str, Any]


def attest_and_verify(
    image_ref: str,
    predicates: Sequence[Predicate],
    settings: SigningSettings,
    auth: Credentials | None,
    context: GitContext,
    actions: Actions,
    env: Mapping[str, str],
    backoff: Backoff | None = None,
) -> tuple[Attestation, ...]:
    """Attests each predicate keylessly with the job's identity (the signature's settings),
    then verifies each. `env` as for `signing.sign_and_verify`."""
    config = settings.sigstore
    repository, _ = split_digest_ref(image_ref)
    allow_http = is_loopback(repository)
    token = _token(settings, env, context, actions)
    policy = VerifyPolicy.for_identity(token.identity)
    done: list[Attestation] = []
    with cosign_session(env, auth, actions, backoff) as (cosign, secrets):
        token_file = write_secret(secrets / "token", token.value)
        for predicate in predicates:
            path = write_secret(secrets / f"{predicate.kind}.json", json.dumps(predicate.body))
            argv = attest_argv(
                cosign.path,
                image_ref,
                predicate.kind,
                str(path),
                config,
                str(token_file),
                allow_http,
            )
            with actions.group(f"Attest {predicate.kind} {image_ref}"):
                actions.info(render(argv))
                cosign.run(argv, f"attesting {predicate.kind} for {image_ref}")
                check = verify_attestation_argv(
                    cosign.path, image_ref, predicate.kind, policy, config, allow_http
                )
                cosign.run(check, f"verifying the {predicate.kind} attestation of {image_ref}")
                command = render(
                    verify_attestation_argv(
                        "cosign", image_ref, predicate.kind, policy, config, allow_http
                    )
                )
                actions.info(f"verified: {command}")
            done.append(
                Attestation(
                    kind=predicate.kind,
                    predicate_type=ATTESTATION_TYPES[predicate.kind],
                    reference=attestation_reference(image_ref, config.signature_format),
                    verify_command=command,
                )
            )
    return tuple(done)


def vuln_attestation(
    client: HarborClient,
    project: str,
    repository: str,
    image_ref: str,
    gated: GateResult,
    settings: GateSettings,
    context: GitContext,
) -> Predicate | None:
    """The gate's scan as a predicate; None when the gate had no verdict to attest."""
    if gated.decision is None:
        return None
    _, digest = split_digest_ref(image_ref)
    evidence = scan_evidence(client, project, repository, digest, gated)
    record = GateRecord(
        verdict=str(gated.verdict),
        block_severities=settings.block_severities,
        ignore_cves=settings.ignore_cves,
        decision=gated.decision,
    )
    return Predicate("vuln", vuln_predicate(evidence, record, run_identity(context)))


# -- verification for `k1s0-image verify --attestations` -----------------------------------------


def verify_attestations(
    cosign: Cosign,
    image_ref: str,
    kinds: Sequence[str],
    policy: VerifyPolicy,
    config: SigstoreConfig,
    allow_http: bool,
    max_age: timedelta | None,
    now: datetime | None = None,
) -> tuple[str, ...]:
    """Verifies each kind of attestation for the identity; raises SigningError naming the first
    kind that fails. Returns one line per verified attestation."""
    _, digest = split_digest_ref(image_ref)
    moment = now or datetime.now(UTC)
    lines: list[str] = []
    for wanted in kinds:
        tried = SBOM_KINDS if wanted == "sbom" else (wanted,)
        output, kind, failure = "", tried[0], ""
        for kind in tried:
            argv = verify_attestation_argv(cosign.path, image_ref, kind, policy, config, allow_http)
            try:
                output = cosign.run(argv, f"verifying the {kind} attestation of {image_ref}")
                break
            except SigningError as error:
                failure = str(error)
        else:
            raise SigningError(
                f"{image_ref} has no {wanted} attestation that verifies for "
                f"{policy.identity_regexp} issued by {policy.issuer}: {failure}"
            )
        predicate = newest_predicate(statements(output), ATTESTATION_TYPES[kind], digest)
        if predicate is None:
            raise SigningError(f"{image_ref}: cosign verified no {kind} statement for {digest}")
        if kind == "vuln":
            problems = vuln_problems(predicate, moment, max_age)
            if problems:
                raise SigningError(f"{image_ref}: the vuln attestation {'; '.join(problems)}")
        lines.append(f"{kind}: verified for {policy.identity_regexp} ({policy.issuer})")
    return tuple(lines)


SBOM_KINDS = ("spdxjson", "cyclonedx")


def parse_kinds(text: str) -> tuple[str, ...]:
    """`vuln,sbom` as the user writes it; `sbom` is whichever SBOM format the digest carries."""
    kinds: list[str] = []
    for item in (part.strip().lower() for part in text.split(",") if part.strip()):
        if item not in ("vuln", "sbom", *SBOM_KINDS):
            raise ValueError(
                f"'{item}' is not an attestation; use vuln, sbom, spdxjson or cyclonedx"
            )
        kinds.append(item)
    return tuple(dict.fromkeys(kinds))


def attest_run(
    client: HarborClient,
    project: str,
    repository: str,
    image_ref: str,
    gated: GateResult,
    gate_settings: GateSettings,
    settings: SigningSettings,
    auth: Credentials | None,
    context: GitContext,
    actions: Actions,
    env: Mapping[str, str],
) -> AttestResult:
    """The pipeline's attest step: after the gate passed and the digest is signed, before
    promotion. Anything that goes wrong stops the run (nothing is promoted without its evidence);
    only a Harbor without SBOM support is a note."""
    notes: list[str] = []
    predicates: list[Predicate] = []
    vuln = vuln_attestation(client, project, repository, image_ref, gated, gate_settings, context)
    if vuln is None:
        notes.append("no vulnerability attestation: the scan gave no verdict (on-scan-error: warn)")
    else:
        predicates.append(vuln)
    _, digest = split_digest_ref(image_ref)
    with actions.group(f"SBOM {image_ref}"):
        outcome = fetch_sbom(
            client, project, repository, digest, gate_settings.timeout, actions.info
        )
    if outcome.sbom is None:
        actions.notice(outcome.note, title="SBOM")
        notes.append(outcome.note)
    else:
        predicates.append(Predicate(outcome.sbom.kind, outcome.sbom.document))
    done = (
        attest_and_verify(image_ref, predicates, settings, auth, context, actions, env)
        if predicates
        else ()
    )
    return AttestResult(attestations=done, notes=tuple(notes))
