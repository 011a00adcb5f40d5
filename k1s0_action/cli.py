"""Command line: `k1s0-image plan | run | verify | kyverno-policy | retention-policy`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from k1s0_action.context import git_context, load_event
from k1s0_action.errors import ActionError, InputError
from k1s0_action.gha import Actions
from k1s0_action.harbor import HarborClient
from k1s0_action.inputs import raw_input, read_inputs
from k1s0_action.kyverno import PolicyRequest, render_policy
from k1s0_action.naming import harbor_project, parse_layer
from k1s0_action.oidc import repository_identity_regexp
from k1s0_action.plan import PlanRequest, make_plan
from k1s0_action.retention import RetentionRequest, change
from k1s0_action.retention import render_policy as render_retention
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
    return parser


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
    return 0


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
    from k1s0_action import pipeline  # the Docker SDK is only needed to run

    actions = Actions(env)
    # Masked before any check: an error about another input must not be the first to show it.
    actions.mask(raw_input(env, "harbor-password"), raw_input(env, "harbor-username"))
    try:
        inputs = read_inputs(env)
        context = git_context(env, load_event(env.get("GITHUB_EVENT_PATH", "")))
        pipeline.run(inputs, context, actions)
    except ActionError as error:
        actions.error(error.diagnostics())
        return EXIT_FAILURE
    except Exception as error:  # a bug, not the user's doing: say so, keep the trace, hide secrets
        actions.error(f"internal error ({type(error).__name__}): {error}; please report it")
        print(actions.redact(traceback.format_exc()), file=sys.stderr)
        return EXIT_FAILURE
    return 0


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    environment = dict(os.environ if env is None else env)
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run_command(environment)
    commands = {
        "plan": plan_command,
        "verify": verify_command,
        "kyverno-policy": kyverno_command,
        "retention-policy": retention_command,
    }
    try:
        return commands[args.command](args, environment)
    except InputError as error:
        print(f"error: {error.diagnostics()}", file=sys.stderr)
        return EXIT_USAGE
    except ActionError as error:
        print(f"error: {error.diagnostics()}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
