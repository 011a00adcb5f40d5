"""The action's run: plan -> build -> push -> (scan gate) -> (sign) -> promote -> outputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from k1s0_action import engine, signing
from k1s0_action.context import GitContext
from k1s0_action.errors import InputError, RegistryError
from k1s0_action.gha import Actions
from k1s0_action.inputs import ActionInputs
from k1s0_action.plan import BuildPlan, PlanRequest, make_plan
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


def credentials(inputs: ActionInputs) -> engine.Credentials:
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
    creds = credentials(inputs) if inputs.push else None

    client = engine.connect()
    if creds:
        engine.login(client, creds)

    with actions.group(f"Build {plan.push_ref}"):
        built = engine.build(
            client,
            engine.BuildRequest(
                context=inputs.context,
                dockerfile=inputs.dockerfile,
                tag=plan.push_ref,
                build_args=inputs.build_args,
                labels=plan.labels,
                target=inputs.target,
                platform=inputs.platform,
            ),
            actions.info,
        )
    if creds is None:
        actions.info(f"push: false; built {plan.push_ref} ({built.image_id}) and stopped")
        result = RunResult(plan=plan, image_id=built.image_id, pushed=None, applied_tags=())
        report(actions, result)
        return result

    with actions.group(f"Push {plan.push_ref}"):
        digest = engine.push(client, plan.image, plan.tags.push_tag, creds, actions.info)
    pushed = PushedImage(plan=plan, digest=digest)
    actions.info(f"pushed {pushed.reference}")

    # The scan gate (issue 4) and keyless signing (issue 5) sit here: nothing below this line may
    # run for a digest that has not passed both.
    if inputs.sign:
        version = dict(plan.labels).get("org.opencontainers.image.version", "")
        signing.report(
            actions,
            signing.sign_and_verify(pushed.reference, inputs, context, actions, version=version),
        )
    applied = [plan.tags.push_tag]
    for tag_name in plan.tags.promote_tags:
        engine.tag(client, built.image_id, plan.image, tag_name)
        promoted = engine.push(client, plan.image, tag_name, creds, actions.info)
        if promoted != digest:  # a different digest would mean the tag names another image
            raise RegistryError(f"{plan.image}:{tag_name} was pushed as {promoted}, not {digest}")
        applied.append(tag_name)
    result = RunResult(
        plan=plan, image_id=built.image_id, pushed=pushed, applied_tags=tuple(applied)
    )
    report(actions, result)
    return result


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
