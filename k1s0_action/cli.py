"""Command line: `k1s0-image plan | run` (and, as they land, `verify`, `kyverno-policy`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from k1s0_action.context import git_context, load_event
from k1s0_action.errors import ActionError, InputError
from k1s0_action.gha import Actions
from k1s0_action.inputs import raw_input, read_inputs
from k1s0_action.naming import parse_layer
from k1s0_action.plan import PlanRequest, make_plan

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
    return parser


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
    print(make_plan(request, context, datetime.now(UTC)).to_json())
    return 0


def run_command(env: Mapping[str, str]) -> int:
    from k1s0_action import pipeline  # the Docker SDK is only needed to run

    actions = Actions(env)
    try:
        inputs = read_inputs(env)
        context = git_context(env, load_event(env.get("GITHUB_EVENT_PATH", "")))
        pipeline.run(inputs, context, actions)
    except ActionError as error:
        actions.error(error.diagnostics())
        return EXIT_FAILURE
    return 0


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    environment = dict(os.environ if env is None else env)
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run_command(environment)
    try:
        return plan_command(args, environment)
    except InputError as error:
        print(f"error: {error.diagnostics()}", file=sys.stderr)
        return EXIT_USAGE
    except ActionError as error:
        print(f"error: {error.diagnostics()}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
