"""Command line: `k1s0-image plan | run | gate | verify | conformance | init | rescan | cleanup`.

Also `kyverno-policy` and `retention-policy`; `k1s0-image --help` lists every command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from k1s0_action.attest import parse_kinds, verify_attestations
from k1s0_action.attestation import parse_age
from k1s0_action.conformance import settings_from_env
from k1s0_action.context import git_context, load_event
from k1s0_action.errors import ActionError, InputError
from k1s0_action.gate import GateSettings, scan_gate
from k1s0_action.gha import Actions, untrusted
from k1s0_action.harbor import HarborClient
from k1s0_action.inputs import (
    parse_bool,
    parse_choice,
    parse_list,
    parse_seconds,
    raw_input,
    read_inputs,
)
from k1s0_action.kyverno import PolicyRequest, render_policy
from k1s0_action.naming import Layer, harbor_project, parse_layer
from k1s0_action.oidc import repository_identity_regexp
from k1s0_action.plan import PlanRequest, make_plan
from k1s0_action.policy import SEVERITIES
from k1s0_action.report import gate_report
from k1s0_action.retention import RetentionRequest, change
from k1s0_action.retention import render_policy as render_retention
from k1s0_action.scanreport import Verdict, markdown
from k1s0_action.signing import (
    Cosign,
    SigstoreConfig,
    VerifyPolicy,
    cosign_env,
    cosign_path,
    docker_config,
    private_dir,
    trusted_root_has_ctlogs,
    verify,
)
from k1s0_action.summary import severity_counts

EXIT_FAILURE = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="k1s0-image", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="print the image name, tags and labels as JSON")
    for flag in ("service", "layer", "version", "domain", "registry", "project-prefix"):
        plan.add_argument(f"--{flag}", help=f"default: INPUT_{flag.upper()}")
    plan.add_argument("--ref", help="default: GITHUB_REF, e.g. refs/heads/main")
    plan.add_argument("--sha", help="default: GITHUB_SHA (or the pull request's head sha)")
    plan.add_argument("--event-name", help="default: GITHUB_EVENT_NAME")
    plan.add_argument("--head-ref", help="default: the pull request's head branch")
    plan.add_argument("--default-branch", help="default: the event's repository.default_branch")

    commands.add_parser("run", help="run the action (reads INPUT_* and GITHUB_*)")

    gate = commands.add_parser(
        "gate",
        help="judge an image already in Harbor with the action's scan gate",
        description="Credentials come from HARBOR_USERNAME and HARBOR_PASSWORD. Exit 0 passed "
        "(or incomplete with --on-scan-error warn), 1 blocked or failed closed, 2 bad input.",
    )
    gate.add_argument("image", help="REGISTRY/PROJECT/REPOSITORY@sha256:...")
    gate.add_argument("--harbor-url", default="", help="default: https://<registry>")
    gate.add_argument(
        "--block-severities",
        default="critical,high",
        help="the lowest listed severity blocks itself and everything above it",
    )
    gate.add_argument("--ignore-cves", default="", help="ids allowed for this check, exact")
    gate.add_argument("--scan-timeout", default="600", help="seconds (or 10m) to wait")
    gate.add_argument("--on-scan-error", default="fail", help="fail | warn")
    gate.add_argument(
        "--scan", action="store_true", help="start a scan when there is none (needs scan:create)"
    )
    gate.add_argument("--json", action="store_true", help="one JSON object on the last line")

    verify = commands.add_parser(
        "verify", help="exit 0 only if IMAGE carries a keyless signature from the given identity"
    )
    verify.add_argument("image", help="IMAGE@sha256:... (a tag is resolved by cosign)")
    _identity_flags(verify)
    verify.add_argument(
        "--trusted-root", default="", help="trusted_root.json of a private Sigstore"
    )
    verify.add_argument("--rekor-url", default="https://rekor.sigstore.dev")
    verify.add_argument(
        "--insecure-ignore-tlog", action="store_true", help="the signature has no Rekor entry"
    )
    verify.add_argument(
        "--allow-http-registry", action="store_true", help="plain-HTTP registry (testing only)"
    )
    verify.add_argument(
        "--attestations",
        default="",
        help="also verify these attestations from the same identity: vuln, sbom (comma-separated)",
    )
    verify.add_argument(
        "--max-scan-age",
        default="",
        help="fail when the vuln attestation's scan finished longer ago than this, e.g. 7d",
    )

    policy = commands.add_parser(
        "kyverno-policy", help="print a Kyverno ClusterPolicy that enforces the same identity"
    )
    _identity_flags(policy)
    policy.add_argument("--registry", help="default: INPUT_REGISTRY")
    policy.add_argument("--project-prefix", help="default: INPUT_PROJECT-PREFIX")
    policy.add_argument("--name", default="k1s0-verify-image-signatures")
    policy.add_argument("--rekor-url", default="https://rekor.sigstore.dev")
    policy.add_argument("--ignore-tlog", action="store_true", help="no Rekor entry (private)")
    policy.add_argument("--ignore-sct", action="store_true", help="Fulcio without a CT log")
    policy.add_argument(
        "--attestations",
        action="store_true",
        help="also require the vuln attestation: same identity, no Critical/High outside the "
        "recorded allowlist, scan finished within --max-scan-age",
    )
    policy.add_argument("--max-scan-age", default="7d", help="with --attestations (default 7d)")

    retention = commands.add_parser(
        "retention-policy",
        help="print (or --apply) the project's Harbor tag-retention policy (rules R1-R3)",
        description="Credentials come from HARBOR_USERNAME and HARBOR_PASSWORD.",
    )
    retention.add_argument("--harbor-url", default="", help="e.g. https://harbor.example.com")
    retention.add_argument("--project", default="", help="the Harbor project, e.g. k1s0-system")
    retention.add_argument("--layer", default="", help="instead of --project: system|business|...")
    retention.add_argument("--project-prefix", default="k1s0", help="with --layer (default k1s0)")
    retention.add_argument(
        "--project-id", type=int, default=0, help="print without asking Harbor for the id"
    )
    retention.add_argument(
        "--schedule", default="", help="Harbor cron, six fields, e.g. '0 0 3 * * *'"
    )
    retention.add_argument(
        "--apply", action="store_true", help="create or update the policy on the project"
    )
    conform = commands.add_parser(
        "conformance",
        help="check a Dockerfile (and a local image) against the image rules S1-S5 and V4",
        description="Exit 0 when every rule holds, 1 with one line per broken rule (its id "
        "first), 2 on bad input. hadolint's findings are printed as warnings on stderr.",
    )
    conform.add_argument("--dockerfile", default="", help="default: <context>/Dockerfile")
    conform.add_argument("--context", default=".", help="the build context (default .)")
    conform.add_argument("--image", default="", help="a local image to check too, e.g. app:dev")
    conform.add_argument("--port", default="8080", help="the port the image serves, or none")
    conform.add_argument(
        "--approved-base",
        action="append",
        default=[],
        help="an approved runtime base pattern besides S3's (repeatable), e.g. 'org/base:1.*'",
    )
    conform.add_argument("--build-arg", action="append", default=[], help="KEY=VALUE")
    conform.add_argument("--target", default="", help="the stage that becomes the image")

    init = commands.add_parser(
        "init", help="write an S3 template: Dockerfile, .dockerignore, nginx config, workflow"
    )
    init.add_argument("--template", required=True, choices=("rust", "react", "flutter-web"))
    init.add_argument("--service", default="", help="service name (default: the directory's)")
    init.add_argument("--dir", default=".", help="where to write (default .)")
    init.add_argument("--layer", default="", help="the workflow's layer (default service)")
    init.add_argument("--domain", default="", help="the business domain (layer business)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    _rescan_parser(commands)
    _cleanup_parser(commands)
    return parser


RESCAN_LAYERS = "system,business,service,infra"


def _rescan_parser(commands: Any) -> None:
    rescan = commands.add_parser(
        "rescan",
        help="rescan and re-judge the deployable images (release tags, latest) of the layer "
        "projects; exit 1 if any now fails the gate",
        description="Harbor credentials come from HARBOR_USERNAME and HARBOR_PASSWORD (or the "
        "action's harbor-username/harbor-password inputs). Every flag falls back to the action "
        "input of the same name. Tags are never moved or deleted.",
    )
    rescan.add_argument("--harbor-url", help="default: INPUT_HARBOR-URL, else https://<registry>")
    rescan.add_argument("--registry", help="default: INPUT_REGISTRY")
    rescan.add_argument("--project-prefix", help="default: INPUT_PROJECT-PREFIX, else k1s0")
    rescan.add_argument(
        "--layers", help=f"comma-separated (default: INPUT_LAYERS, else all: {RESCAN_LAYERS})"
    )
    rescan.add_argument(
        "--project", action="append", default=[], help="a project by name instead (repeatable)"
    )
    rescan.add_argument(
        "--max-age", help="judge a scan younger than this as it is (default 24h; 0: always rescan)"
    )
    rescan.add_argument("--scan-timeout", help="per scan (default: INPUT_SCAN-TIMEOUT, 600)")
    rescan.add_argument("--block-severities", help="default: INPUT_BLOCK-SEVERITIES, critical,high")
    rescan.add_argument("--ignore-cves", help="default: INPUT_IGNORE-CVES")
    rescan.add_argument(
        "--open-issues",
        action="store_true",
        default=None,
        help="one GitHub issue per failing image (GITHUB_TOKEN, GITHUB_REPOSITORY)",
    )


def conformance_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from k1s0_action import conformance, conformance_check, engine
    from k1s0_action.errors import BuildError
    from k1s0_action.inputs import parse_build_args

    context = Path(args.context)
    dockerfile = Path(args.dockerfile) if args.dockerfile else context / "Dockerfile"
    if not context.is_dir():
        raise InputError("context", f"'{context}' is not a directory")
    if not dockerfile.is_file():
        raise InputError("dockerfile", f"'{dockerfile}' does not exist")
    settings = conformance.Settings(
        mode="enforce",
        port=conformance.parse_port(args.port),
        approved_bases=conformance.parse_patterns("\n".join(args.approved_base)),
    )
    request = conformance_check.CheckRequest(
        dockerfile=dockerfile,
        settings=settings,
        build_args=parse_build_args("\n".join(args.build_arg)),
        target=args.target,
        image=args.image,
    )
    try:
        client = engine.connect(env) if args.image else None
        report = conformance_check.check(request, client=client, env=env)
    except BuildError as error:
        print(f"error: {error.diagnostics()}", file=sys.stderr)
        return EXIT_USAGE
    for line in conformance.messages(report):
        print(line)
    lint = report.lint
    if lint is not None and not lint.ran:
        print(f"warning: hadolint: {lint.note}", file=sys.stderr)
    for finding in lint.findings if lint is not None else ():
        print(
            f"warning: hadolint {finding.code} (line {finding.line}): {finding.message}",
            file=sys.stderr,
        )
    checked = len([r for r in report.results if r.outcome != conformance.Outcome.NOT_APPLICABLE])
    if report.passed:
        print(f"{dockerfile}: all {checked} applicable image rules hold", file=sys.stderr)
        return 0
    return EXIT_FAILURE


def init_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from k1s0_action import init

    written = init.write(
        init.InitRequest(
            template=args.template,
            service=args.service,
            directory=Path(args.dir),
            layer=args.layer,
            domain=args.domain,
            force=args.force,
        )
    )
    for path in written:
        print(path)
    return 0


def _identity_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--certificate-oidc-issuer",
        default="https://token.actions.githubusercontent.com",
        help="the OIDC issuer in the certificate (default: GitHub Actions)",
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--certificate-identity-regexp",
        help="anchored regexp for the certificate SAN, e.g. "
        r"'^https://github\.com/org/repo/\.github/workflows/image\.yml@refs/heads/main$'",
    )
    who.add_argument(
        "--repository", help="OWNER/NAME: accept any workflow of this repository (anchored)"
    )
    parser.add_argument(
        "--certificate-github-workflow-repository",
        default="",
        help="also require the run's repository claim (the caller of a reusable workflow)",
    )


def _policy(args: argparse.Namespace) -> VerifyPolicy:
    regexp = args.certificate_identity_regexp or repository_identity_regexp(args.repository)
    if not (regexp.startswith("^") and regexp.endswith("$")):
        raise InputError(
            "certificate-identity-regexp",
            "must be anchored with ^...$; an unanchored pattern also accepts other repositories",
        )
    return VerifyPolicy(
        issuer=args.certificate_oidc_issuer,
        identity_regexp=regexp,
        workflow_repository=args.certificate_github_workflow_repository,
    )


def verify_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    policy = _policy(args)
    kinds, max_age = _attestation_flags(args)
    config = SigstoreConfig(
        fulcio_url="",
        rekor_url=args.rekor_url,
        trusted_root=args.trusted_root,
        tlog_upload=not args.insecure_ignore_tlog,
        ignore_sct=bool(args.trusted_root) and not trusted_root_has_ctlogs(args.trusted_root),
    )
    actions = Actions(env, stream=sys.stderr)
    with private_dir() as secrets:
        cosign = Cosign(
            path=cosign_path(env),
            env=cosign_env(env, docker_config_from(env, secrets)),
            actions=actions,
        )
        verify(cosign, args.image, policy, config, args.allow_http_registry)
        print(f"verified: {args.image} is signed by {policy.identity_regexp} ({policy.issuer})")
        if kinds:
            for line in verify_attestations(
                cosign, args.image, kinds, policy, config, args.allow_http_registry, max_age
            ):
                print(f"verified: {line}")
    return 0


def _age_hours(text: str) -> int:
    try:
        age = parse_age(text)
    except ValueError as error:
        raise InputError("max-scan-age", str(error)) from None
    return max(1, int(age.total_seconds() // 3600))


def _attestation_flags(args: argparse.Namespace) -> tuple[tuple[str, ...], timedelta | None]:
    try:
        kinds = parse_kinds(args.attestations)
    except ValueError as error:
        raise InputError("attestations", str(error)) from None
    try:
        max_age = parse_age(args.max_scan_age) if args.max_scan_age else None
    except ValueError as error:
        raise InputError("max-scan-age", str(error)) from None
    if max_age is not None and "vuln" not in kinds:
        raise InputError("max-scan-age", "applies to the vuln attestation: add --attestations vuln")
    return kinds, max_age


def docker_config_from(env: Mapping[str, str], secrets: Path) -> Path:
    """The caller's own registry login (DOCKER_CONFIG or ~/.docker) unless there is none."""
    existing = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
    return existing if (existing / "config.json").is_file() else docker_config(secrets, None)


def kyverno_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    policy = _policy(args)
    request = PolicyRequest(
        registry=args.registry or raw_input(env, "registry"),
        project_prefix=args.project_prefix or raw_input(env, "project-prefix"),
        issuer=policy.issuer,
        identity_regexp=policy.identity_regexp,
        workflow_repository=policy.workflow_repository,
        name=args.name,
        rekor_url=args.rekor_url,
        ignore_tlog=args.ignore_tlog,
        ignore_sct=args.ignore_sct,
        attestations=args.attestations,
        max_scan_age_hours=_age_hours(args.max_scan_age),
    )
    print(render_policy(request), end="")
    return 0


def _retention_project(args: argparse.Namespace) -> str:
    if args.project and args.layer:
        raise InputError("project", "give either --project or --layer, not both")
    if args.project:
        return str(args.project)
    if args.layer:
        return harbor_project(args.project_prefix, parse_layer(args.layer))
    raise InputError("project", "is required: give --project NAME or --layer LAYER")


def _harbor_client(args: argparse.Namespace, env: Mapping[str, str]) -> HarborClient:
    username, password = env.get("HARBOR_USERNAME", ""), env.get("HARBOR_PASSWORD", "")
    if not (username and password):
        raise InputError(
            "harbor-credentials", "set HARBOR_USERNAME and HARBOR_PASSWORD in the environment"
        )
    return HarborClient(args.harbor_url, username, password)


def retention_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    project = _retention_project(args)
    if not args.harbor_url:
        if args.apply or not args.project_id:
            raise InputError("harbor-url", "is required with --apply or without --project-id")
        request = RetentionRequest(project_id=args.project_id, schedule=args.schedule)
        print(json.dumps(render_retention(request), indent=2))
        return 0
    client = _harbor_client(args, env)
    found = client.get_project(project)
    policy = render_retention(RetentionRequest(project_id=found.id, schedule=args.schedule))
    if not args.apply:
        print(json.dumps(policy, indent=2))
        return 0
    stored = client.get_retention(found.retention_id) if found.retention_id else None
    action = change(stored, policy)
    if action == "create":
        policy_id = client.create_retention(policy) or client.get_project(project).retention_id
    else:
        policy_id = found.retention_id
        if action == "update":
            client.update_retention(policy_id, {**policy, "id": policy_id})
    print(f"retention policy {policy_id} of project {project}: {action}")
    return 0


_IMAGE_DIGEST = re.compile(
    r"^(?P<registry>[^/@\s]+)/(?P<project>[^/@\s]+)/(?P<repository>[^@\s]+)"
    r"@(?P<digest>sha256:[0-9a-f]{64})$"
)


def _gate_settings(args: argparse.Namespace) -> GateSettings:
    block = tuple(s.lower() for s in parse_list(args.block_severities))
    for severity in block:
        parse_choice("block-severities", severity, SEVERITIES)
    return GateSettings(
        timeout=parse_seconds("scan-timeout", args.scan_timeout),
        block_severities=block,
        ignore_cves=parse_list(args.ignore_cves),
        on_scan_error=parse_choice("on-scan-error", args.on_scan_error, ("fail", "warn")),
        start_scan=args.scan,
    )


def gate_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """`k1s0-image gate IMAGE@DIGEST`: the action's verdict for an image already in Harbor.
    Progress goes to stderr; the summary, then (--json) one JSON object, to stdout."""
    found = _IMAGE_DIGEST.match(args.image)
    if not found:
        raise InputError(
            "image", f"'{args.image}' is not REGISTRY/PROJECT/REPOSITORY@sha256:<64 hex digits>"
        )
    settings = _gate_settings(args)
    harbor_url = args.harbor_url or f"https://{found['registry']}"
    image = args.image.split("@", 1)[0]
    project, repository, digest = found["project"], found["repository"], found["digest"]
    actions = Actions(env, stream=sys.stderr)
    args.harbor_url = harbor_url
    client = _harbor_client(args, env)
    client.on_retry = actions.info
    outcome: dict[str, object] = {"image": image, "digest": digest}
    try:
        result = scan_gate(client, project, repository, digest, settings, actions.info)
    except ActionError as error:
        print(untrusted(f"error: {error.diagnostics()}"), file=sys.stderr)
        outcome |= {"verdict": Verdict.BLOCKED.value, "error": error.diagnostics()}
        if args.json:
            print(_json_line(outcome))
        return EXIT_FAILURE
    for note in (*result.warnings, *result.notices):
        actions.info(f"{note.title}: {note.message}")
    report = gate_report(image, digest, harbor_url, repository, result)
    print(untrusted(markdown(report)), end="")
    decision = result.decision
    outcome |= {
        "verdict": result.verdict.value,
        "scan_status": result.scan_status,
        "counts": severity_counts(decision),
        "blocking": [j.finding.id for j in decision.blocking] if decision else [],
        "defects": list(decision.defects) if decision else [],
        "note": result.note,
    }
    if args.json:
        print(_json_line(outcome))
    return 0 if result.passed else EXIT_FAILURE


def _json_line(value: Mapping[str, object]) -> str:
    """One line of JSON that a runner cannot take for a command: control characters are escaped
    by json.dumps, and `##[` (a legacy command anywhere in a line) is written as `##\\u005b`."""
    return json.dumps(value).replace("##[", "##\\u005b")


def _cleanup_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cleanup = commands.add_parser(
        "cleanup",
        help="delete branch builds 7 days after their pull request ended (rules T6, R3)",
        description="Dry run unless --apply. Credentials: HARBOR_USERNAME, HARBOR_PASSWORD and "
        "GITHUB_TOKEN (pull-requests: read, contents: read) from the environment.",
    )
    cleanup.add_argument("--harbor-url", default="", help="e.g. https://harbor.example.com")
    cleanup.add_argument("--project-prefix", default="k1s0", help="layer projects <prefix>-<layer>")
    cleanup.add_argument(
        "--layer", action="append", default=[], help="a layer to walk (repeat; default: all four)"
    )
    cleanup.add_argument(
        "--project", action="append", default=[], help="instead of layers: a Harbor project"
    )
    cleanup.add_argument(
        "--repository",
        action="append",
        default=[],
        help="OWNER/NAME whose builds to judge (repeat; default GITHUB_REPOSITORY; '*' = all; "
        "a token sees only the repositories it was granted)",
    )
    cleanup.add_argument("--after", default="7d", help="how long after the merge (default 7d)")
    cleanup.add_argument(
        "--github-api-url", default="", help="default: GITHUB_API_URL, else https://api.github.com"
    )
    cleanup.add_argument(
        "--wait-budget",
        default="600",
        help="seconds (or 10m) to wait out GitHub's rate limits before stopping (default 600)",
    )
    cleanup.add_argument("--apply", action="store_true", help="delete (default: dry run)")


def cleanup_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from k1s0_action.cleanup import parse_after
    from k1s0_action.cleanup_run import CleanupRequest, run_cleanup
    from k1s0_action.github_api import GitHubClient
    from k1s0_action.inputs import parse_seconds

    if not args.harbor_url:
        raise InputError("harbor-url", "is required, e.g. --harbor-url https://harbor.example.com")
    if any(args.project) and any(args.layer):
        raise InputError("project", "give either --project or --layer, not both")
    # --layer repeats, or lists several ("system business"), as the reusable workflow passes them
    layers = [name for given in args.layer for name in re.split(r"[\s,]+", given) if name]
    projects = tuple(p for given in args.project for p in re.split(r"[\s,]+", given) if p) or tuple(
        harbor_project(args.project_prefix or "k1s0", parse_layer(layer))
        for layer in (layers or [layer.value for layer in Layer])
    )
    repositories = tuple(r for r in args.repository if r) or (
        (env["GITHUB_REPOSITORY"],) if env.get("GITHUB_REPOSITORY") else ()
    )
    if not repositories:
        raise InputError(
            "repository", "give --repository OWNER/NAME (or '*'), or set GITHUB_REPOSITORY"
        )
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        raise InputError("GITHUB_TOKEN", "set it to a token with pull-requests: read")
    after = parse_after(args.after)
    budget = parse_seconds("wait-budget", args.wait_budget)
    harbor = _harbor_client(args, env)
    actions = Actions(env)
    if env.get("GITHUB_ACTIONS") == "true":
        for secret in (token, env.get("HARBOR_PASSWORD", "")):
            actions.mask(secret)
    github = GitHubClient(
        token,
        args.github_api_url or env.get("GITHUB_API_URL", ""),
        wait_budget=budget,
        on_wait=actions.info,
    )
    request = CleanupRequest(
        projects=projects,
        repositories=repositories,
        after=after,
        apply=args.apply,
        now=datetime.now(UTC),
    )
    result = run_cleanup(harbor, github, request, actions.info)
    report = result.markdown(args.apply)
    actions.info(report)
    actions.summary(report)
    if result.stopped:
        actions.warning(result.stopped, title="cleanup stopped early")
    if result.failed:
        actions.error(result.failed, title="cleanup failed")
        return EXIT_FAILURE
    return 0


def plan_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    def value(flag: str) -> str:
        given = getattr(args, flag.replace("-", "_"))
        return str(given) if given is not None else raw_input(env, flag)

    event = load_event(env.get("GITHUB_EVENT_PATH", ""))
    context = git_context(
        env,
        event,
        {
            "ref": args.ref,
            "sha": args.sha,
            "event_name": args.event_name,
            "head_ref": args.head_ref,
            "default_branch": args.default_branch,
        },
    )
    request = PlanRequest(
        service=value("service"),
        layer=parse_layer(value("layer")),
        version=value("version"),
        domain=value("domain"),
        registry=value("registry"),
        project_prefix=value("project-prefix"),
    )
    print(make_plan(request, context, context.created(datetime.now(UTC))).to_json())
    return 0


def run_command(env: Mapping[str, str]) -> int:
    """The action: every failure, from a bad input on, ends in one error line and the same job
    summary and outputs as a success, written once from the run's record."""
    from k1s0_action import pipeline  # the Docker SDK is only needed to run
    from k1s0_action.outcome import RunRecord
    from k1s0_action.report import publish

    actions = Actions(env)
    # Masked before any check: an error about another input must not be the first to show it.
    actions.mask(raw_input(env, "harbor-password"), raw_input(env, "harbor-username"))
    record = RunRecord()
    try:
        settings = read_inputs(env)
        conformance = settings_from_env(env)
        context = git_context(env, load_event(env.get("GITHUB_EVENT_PATH", "")))
        pipeline.run(settings, context, actions, conformance=conformance, record=record)
    except ActionError as error:
        record.fail(error.diagnostics())
        actions.error(error.diagnostics())
        return EXIT_FAILURE
    except Exception as error:  # a bug, not the user's doing: say so, keep the trace, hide secrets
        message = f"internal error ({type(error).__name__}): {error}; please report it"
        record.fail(message)
        actions.error(message)
        print(untrusted(actions.redact(traceback.format_exc())), file=sys.stderr)
        return EXIT_FAILURE
    finally:
        publish(actions, record.outcome)
    return 0


def _rescan_value(args: argparse.Namespace, env: Mapping[str, str], flag: str, default: str) -> str:
    given = getattr(args, flag.replace("-", "_"), None)
    if given is not None:
        return str(given)
    return (env.get(f"INPUT_{flag.upper()}") or "").strip() or default


def rescan_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from k1s0_action import rescan  # the rescan needs none of the build's modules

    def value(flag: str, default: str = "") -> str:
        return _rescan_value(args, env, flag, default)

    actions = Actions(env, stream=sys.stderr)
    username = env.get("HARBOR_USERNAME") or value("harbor-username")
    password = env.get("HARBOR_PASSWORD") or value("harbor-password")
    actions.mask(password)
    if not (username and password):
        raise InputError(
            "harbor-credentials", "set HARBOR_USERNAME and HARBOR_PASSWORD in the environment"
        )
    registry = value("registry", "harbor.internal.example.com")
    harbor_url = value("harbor-url") or f"https://{registry}"
    prefix = value("project-prefix", "k1s0")
    projects = tuple(args.project) or tuple(
        harbor_project(prefix, parse_layer(layer))
        for layer in parse_list(value("layers", RESCAN_LAYERS))
    )
    severities = tuple(s.lower() for s in parse_list(value("block-severities", "critical,high")))
    for severity in severities:
        parse_choice("block-severities", severity, SEVERITIES)
    settings = rescan.RescanSettings(
        projects=projects,
        max_age=rescan.parse_age("max-age", value("max-age", "24h")),
        timeout=parse_seconds("scan-timeout", value("scan-timeout", "600")),
        block_severities=severities,
        ignore_cves=tuple(c.upper() for c in parse_list(value("ignore-cves"))),
    )
    open_issues = args.open_issues or parse_bool("open-issues", value("open-issues", "false"))
    tracker = _issue_tracker(env, actions) if open_issues else None
    client = HarborClient(harbor_url, username, password, on_retry=actions.info)
    report = rescan.rescan(client, settings, actions.info)
    table = rescan.render_table(report)
    print(table, end="")
    actions.summary(table)
    if tracker is not None:
        from k1s0_action.rescanissues import sync_issues

        for done in sync_issues(tracker, report, projects):
            actions.info(f"issue {done.kind.value}: {done.title}")
    failing = [o for o in report.outcomes if o.failed]
    if failing:
        shown = ", ".join(f"{o.target.image}@{o.target.digest[:19]}" for o in failing[:5])
        actions.error(
            f"{len(failing)} deployable digests fail the scan gate now ({shown}); "
            "release fixed images or allow the findings in Harbor's CVE allowlist"
        )
        return EXIT_FAILURE
    return 0


def _issue_tracker(env: Mapping[str, str], actions: Actions) -> Any:
    """Checked before Harbor is asked anything: what `--open-issues` needs."""
    token = env.get("GITHUB_TOKEN", "")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not (token and repository):
        raise InputError(
            "open-issues", "needs GITHUB_TOKEN (with issues: write) and GITHUB_REPOSITORY"
        )
    actions.mask(token)
    try:
        from k1s0_action.rescanissues import GithubIssues

        return GithubIssues(
            repository, token, env.get("GITHUB_API_URL") or "https://api.github.com"
        )
    except ImportError:
        raise InputError(
            "open-issues",
            "needs PyGithub, which this installation lacks: pip install PyGithub==2.10.0",
        ) from None


def action_main(env: Mapping[str, str] | None = None) -> int:
    """The container action's entry: input `command` picks `run` (default) or `rescan`."""
    environment = dict(os.environ if env is None else env)
    command = (environment.get("INPUT_COMMAND") or "").strip() or "run"
    if command not in ("run", "rescan"):
        Actions(environment).error(f"input command: '{command}' is not allowed; use run | rescan")
        return EXIT_USAGE
    return main([command], environment)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    environment = dict(os.environ if env is None else env)
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run_command(environment)
    commands = {
        "plan": plan_command,
        "gate": gate_command,
        "verify": verify_command,
        "kyverno-policy": kyverno_command,
        "retention-policy": retention_command,
        "rescan": rescan_command,
        "cleanup": cleanup_command,
        "conformance": conformance_command,
        "init": init_command,
    }
    try:
        return commands[args.command](args, environment)
    except InputError as error:
        print(untrusted(f"error: {error.diagnostics()}"), file=sys.stderr)
        return EXIT_USAGE
    except ActionError as error:
        print(untrusted(f"error: {error.diagnostics()}"), file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
