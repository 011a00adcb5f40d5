"""The action's run: plan -> build -> push -> (scan gate) -> (sign) -> promote -> outputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from k1s0_action import builder, engine, gate, multiplatform, signing
from k1s0_action.context import GitContext
from k1s0_action.errors import ActionError, InputError, ScanGateError
from k1s0_action.gha import Actions
from k1s0_action.harbor import HarborClient
from k1s0_action.inputs import ActionInputs
from k1s0_action.plan import BuildPlan, PlanRequest, make_plan
from k1s0_action.promotion import PromotionPlan
from k1s0_action.summary import image_summary


@dataclass(frozen=True)
class PushedImage:
    plan: BuildPlan
    digest: str

    @property
    def reference(self) -> str:
        return f"{self.plan.image}@{self.digest}"


@dataclass(frozen=True)
class RunResult:
    plan: BuildPlan
    image_id: str
    pushed: PushedImage | None
    applied_tags: tuple[str, ...]


def plan_request(inputs: ActionInputs) -> PlanRequest:
    return PlanRequest(
        service=inputs.service,
        layer=inputs.layer,
        version=inputs.version,
        domain=inputs.domain,
        registry=inputs.registry,
        project_prefix=inputs.project_prefix,
    )


FORK_PUSH_HINT = (
    "GitHub gives no secrets to pull requests from forks; build them without pushing: "
    "push: ${{ github.event.pull_request.head.repo.full_name == github.repository }}"
)


def credentials(inputs: ActionInputs, context: GitContext) -> engine.Credentials:
    missing = "harbor-username" if not inputs.harbor_username else ""
    missing = missing or ("harbor-password" if not inputs.harbor_password else "")
    if missing and context.is_fork_pull_request:
        raise InputError(missing, f"is empty because {FORK_PUSH_HINT}")
    if not inputs.harbor_username:
        raise InputError(
            "harbor-username",
            "is required to push; pass a Harbor robot account (or set push: false)",
        )
    if not inputs.harbor_password:
        raise InputError(
            "harbor-password",
            "is required to push; pass the robot account's secret from a repository secret",
        )
    return engine.Credentials(inputs.registry, inputs.harbor_username, inputs.harbor_password)


def run(
    inputs: ActionInputs,
    context: GitContext,
    actions: Actions,
    now: datetime | None = None,
) -> RunResult:
    actions.mask(inputs.harbor_password)
    plan = make_plan(plan_request(inputs), context, now or datetime.now(UTC))
    engine.check_build_inputs(inputs.context, inputs.dockerfile)
    creds = credentials(inputs, context) if inputs.push else None

    build_settings = builder.read_settings(os.environ)
    client = engine.connect()
    if creds:
        engine.login(client, creds)
    backend = builder.select(build_settings, client, os.environ, actions.info)
    spec = build_spec(inputs, plan, build_settings)

    with actions.group(f"Build {plan.push_ref} ({backend.name})"):
        built = backend.build(spec, creds or read_credentials(inputs), actions.info)
    if built.cache_note:
        actions.warning(built.cache_note, title="Build cache")
    if creds is None:
        actions.info(f"push: false; built {plan.push_ref} ({built.image_id}) and stopped")
        result = RunResult(plan=plan, image_id=built.image_id, pushed=None, applied_tags=())
        report(actions, result)
        return result

    with actions.group(f"Push {plan.push_ref}"):
        built = backend.push(spec, built, creds, actions.info)
    digest = built.digest
    pushed = PushedImage(plan=plan, digest=digest)
    actions.info(f"pushed {pushed.reference}")

    harbor = harbor_client(inputs, actions)
    with actions.group(f"Scan gate {pushed.reference}"):
        gated = multiplatform.scan_gate(
            harbor, plan.project, plan.repository, built, gate_settings(inputs), actions
        )
    if not gated.passed:
        kept: tuple[str, ...] = (plan.tags.push_tag,)
        if not inputs.keep_blocked:
            gate.remove_blocked(
                harbor, plan.project, plan.repository, digest, plan.tags.push_tag, actions
            )
            kept = ()
        report(actions, RunResult(plan, built.image_id, pushed, kept))
        publish_gate(actions, inputs, plan, digest, gated, PromotionPlan())
        raise ScanGateError(f"{pushed.reference} blocked: {gated.note}")
    signature: signing.SignatureResult | None = None
    try:
        promotion = gate.plan_release_tags(
            harbor,
            plan.image,
            plan.project,
            plan.repository,
            digest,
            plan.version,
            plan.tags.promote_tags,
            gated,
        )
        # Sign only what passed the gate, and promote only what is signed (G1, G2).
        if inputs.sign:
            version = dict(plan.labels).get("org.opencontainers.image.version", "")
            signature = signing.sign_and_verify(
                pushed.reference, inputs, context, actions, version=version
            )
        gate.promote(harbor, plan.image, plan.project, plan.repository, digest, promotion, actions)
    except ActionError:
        report(actions, RunResult(plan, built.image_id, pushed, (plan.tags.push_tag,)))
        publish_gate(actions, inputs, plan, digest, gated, PromotionPlan())
        raise
    result = RunResult(
        plan=plan,
        image_id=built.image_id,
        pushed=pushed,
        applied_tags=(plan.tags.push_tag, *promotion.tags_after),
    )
    # The summary reads top-down: the image and its tags, the gate's verdict, the signature.
    report(actions, result)
    publish_gate(actions, inputs, plan, digest, gated, promotion)
    if signature:
        signing.report(actions, signature)
    return result


def read_credentials(inputs: ActionInputs) -> engine.Credentials | None:
    """With push: false, credentials still given let BuildKit read the cache and private bases."""
    if inputs.harbor_username and inputs.harbor_password:
        return engine.Credentials(inputs.registry, inputs.harbor_username, inputs.harbor_password)
    return None


def build_spec(
    inputs: ActionInputs, plan: BuildPlan, settings: builder.BuildSettings
) -> builder.BuildSpec:
    return builder.BuildSpec(
        context=inputs.context,
        dockerfile=inputs.dockerfile,
        image=plan.image,
        tag=plan.tags.push_tag,
        build_args=inputs.build_args,
        labels=plan.labels,
        target=inputs.target,
        platforms=settings.platforms,
        cache_ref=builder.cache_ref(plan.image) if settings.cache == "harbor" else "",
        push=inputs.push,
    )


def harbor_client(inputs: ActionInputs, actions: Actions) -> HarborClient:
    return HarborClient(
        inputs.harbor_url,
        inputs.harbor_username,
        inputs.harbor_password,
        on_retry=actions.info,
    )


def gate_settings(inputs: ActionInputs) -> gate.GateSettings:
    return gate.GateSettings(
        timeout=inputs.scan_timeout,
        block_severities=inputs.block_severities,
        ignore_cves=inputs.ignore_cves,
        on_scan_error=inputs.on_scan_error,
    )


def publish_gate(
    actions: Actions,
    inputs: ActionInputs,
    plan: BuildPlan,
    digest: str,
    gated: gate.GateResult,
    promotion: PromotionPlan,
) -> None:
    gate.publish(
        actions,
        gate.report_for(
            plan.image,
            digest,
            inputs.harbor_url,
            plan.repository,
            gated,
            promotion.tags_after,
            promotion.skipped,
        ),
        sarif_location(inputs.dockerfile),
    )


def sarif_location(dockerfile: Path) -> str:
    """The Dockerfile as a workspace-relative URI, where code scanning shows the findings."""
    if dockerfile.is_absolute():
        try:
            return dockerfile.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return dockerfile.name
    return dockerfile.as_posix()


def report(actions: Actions, result: RunResult) -> None:
    plan = result.plan
    actions.set_output("image", plan.image)
    actions.set_output("push-tag", plan.tags.push_tag)
    actions.set_output("tags", list(result.applied_tags))
    if result.pushed:
        actions.set_output("digest", result.pushed.digest)
        actions.set_output("image-ref", result.pushed.reference)
    actions.summary(
        image_summary(
            plan.image,
            result.pushed.digest if result.pushed else None,
            result.applied_tags,
            plan.tags.all_tags,
        )
    )
