"""The action's run: plan -> build -> push -> (scan gate) -> (sign) -> promote -> outputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from k1s0_action import engine, gate, signing
from k1s0_action.context import GitContext
from k1s0_action.credentials import Credentials
from k1s0_action.errors import ActionError, InputError, ScanGateError
from k1s0_action.gha import Actions
from k1s0_action.harbor import Artifact, HarborClient, HarborNotFoundError
from k1s0_action.inputs import Settings
from k1s0_action.plan import BuildPlan, make_plan
from k1s0_action.promotion import ImmutableTagError, PromotionPlan
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
    already_released: bool = False  # a re-run: the release existed, nothing was built


FORK_PUSH_HINT = (
    "GitHub gives no secrets to pull requests from forks; build them without pushing: "
    "push: ${{ github.event.pull_request.head.repo.full_name == github.repository }}"
)
REVISION_LABEL = "org.opencontainers.image.revision"


def credentials(settings: Settings, context: GitContext) -> Credentials:
    given = settings.harbor.credentials
    missing = "harbor-username" if not given.username else ""
    missing = missing or ("harbor-password" if not given.password else "")
    if missing and context.is_fork_pull_request:
        raise InputError(missing, f"is empty because {FORK_PUSH_HINT}")
    if not given.username:
        raise InputError(
            "harbor-username",
            "is required to push; pass a Harbor robot account (or set push: false)",
        )
    if not given.password:
        raise InputError(
            "harbor-password",
            "is required to push; pass the robot account's secret from a repository secret",
        )
    return given


def run(
    settings: Settings,
    context: GitContext,
    actions: Actions,
    now: datetime | None = None,
) -> RunResult:
    given = settings.harbor.credentials
    actions.mask(given.password, given.username)
    for name, message in settings.warnings:
        actions.warning(f"input '{name}': {message}")
    plan = make_plan(settings.plan, context, context.created(now or datetime.now(UTC)))
    build = settings.build
    engine.check_build_inputs(build.context, build.dockerfile)
    creds = credentials(settings, context) if build.push else None

    client = engine.connect(settings.environment)
    if creds:
        engine.login(client, creds)
    harbor = harbor_client(settings, actions) if creds else None
    if harbor and plan.version:
        released = released_artifact(harbor, plan, context)
        if released:
            return rerun(settings, context, actions, harbor, plan, released)

    with actions.group(f"Build {plan.push_ref}"):
        built = engine.build(
            client,
            engine.BuildRequest(
                context=build.context,
                dockerfile=build.dockerfile,
                tag=plan.push_ref,
                build_args=build.build_args,
                labels=plan.labels,
                target=build.target,
                platform=build.platform,
            ),
            actions.info,
        )
    if creds is None or harbor is None:
        actions.info(f"push: false; built {plan.push_ref} ({built.image_id}) and stopped")
        result = RunResult(plan=plan, image_id=built.image_id, pushed=None, applied_tags=())
        report(actions, result)
        return result

    with actions.group(f"Push {plan.push_ref}"):
        digest = engine.push(client, plan.image, plan.tags.push_tag, creds, actions.info)
    pushed = PushedImage(plan=plan, digest=digest)
    actions.info(f"pushed {pushed.reference}")

    with actions.group(f"Scan gate {pushed.reference}"):
        gated = gate.scan_gate(
            harbor, plan.project, plan.repository, digest, settings.gate, actions
        )
    if not gated.passed:
        kept: tuple[str, ...] = (plan.tags.push_tag,)
        if not settings.keep_blocked:
            gate.remove_blocked(
                harbor, plan.project, plan.repository, digest, plan.tags.push_tag, actions
            )
            kept = ()
        report(actions, RunResult(plan, built.image_id, pushed, kept))
        publish_gate(actions, settings, plan, digest, gated, PromotionPlan())
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
        if settings.signing.enabled:
            signature = signing.sign_and_verify(
                pushed.reference,
                settings.signing,
                creds,
                context,
                actions,
                env=settings.environment,
                version=plan.version_label,
            )
        gate.promote(harbor, plan.image, plan.project, plan.repository, digest, promotion, actions)
    except ActionError:
        report(actions, RunResult(plan, built.image_id, pushed, (plan.tags.push_tag,)))
        publish_gate(actions, settings, plan, digest, gated, PromotionPlan())
        raise
    result = RunResult(
        plan=plan,
        image_id=built.image_id,
        pushed=pushed,
        applied_tags=(plan.tags.push_tag, *promotion.tags_after),
    )
    # The summary reads top-down: the image and its tags, the gate's verdict, the signature.
    report(actions, result)
    publish_gate(actions, settings, plan, digest, gated, promotion)
    if signature:
        signing.report(actions, signature)
    return result


def released_artifact(
    harbor: HarborClient, plan: BuildPlan, context: GitContext
) -> Artifact | None:
    """The artifact `<version>` already names when this same commit released it (a re-run), None
    when there is no such release; a release of another commit is refused before the build."""
    version = str(plan.version)
    try:
        artifact = harbor.get_artifact(plan.project, plan.repository, version)
    except HarborNotFoundError:
        return None
    revision = artifact.labels.get(REVISION_LABEL, "")
    if revision != context.sha:
        built_from = f"commit {revision[:12]}" if revision else "no recorded commit"
        raise ImmutableTagError(
            f"{plan.image}:{version} already exists on {artifact.digest} ({built_from}); release "
            f"tags are immutable, so commit {context.sha[:12]} was not built: bump 'version' "
            "for a new release"
        )
    return artifact


def rerun(
    settings: Settings,
    context: GitContext,
    actions: Actions,
    harbor: HarborClient,
    plan: BuildPlan,
    released: Artifact,
) -> RunResult:
    """This commit's release exists (the job is re-run): check its gate and signature again and
    build nothing. A release tag the earlier run did not get to (it failed between two tags) is
    added now; otherwise nothing is promoted."""
    digest = released.digest
    pushed = PushedImage(plan=plan, digest=digest)
    actions.info(
        f"{plan.image}:{plan.version} is already released from this commit as {digest}; "
        "re-checking its scan gate and signature instead of building it again"
    )
    with actions.group(f"Scan gate {pushed.reference}"):
        gated = gate.scan_gate(
            harbor, plan.project, plan.repository, digest, settings.gate, actions
        )
    had = tuple(tag for tag in plan.tags.all_tags if tag in released.tags)
    if not gated.passed:
        report(actions, RunResult(plan, "", pushed, had, already_released=True))
        publish_gate(actions, settings, plan, digest, gated, PromotionPlan())
        raise ScanGateError(
            f"{pushed.reference} is released but its scan now blocks it: {gated.note}; "
            "nothing was changed"
        )
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
        if settings.signing.enabled:
            signature = signing.verify_released(
                pushed.reference,
                settings.signing,
                settings.harbor.credentials,
                context,
                actions,
                env=settings.environment,
            )
        gate.promote(harbor, plan.image, plan.project, plan.repository, digest, promotion, actions)
    except ActionError:
        report(actions, RunResult(plan, "", pushed, had, already_released=True))
        raise
    added = tuple(move.tag for move in promotion.add)
    applied = tuple(
        tag for tag in plan.tags.all_tags if tag in released.tags or tag in promotion.tags_after
    )
    actions.summary(
        f"**Re-run:** `{plan.image}:{plan.version}` was already released from this commit "
        f"(`{digest}`); its scan gate and signature were checked again and nothing was built "
        "or pushed; "
        + (f"added the missing {', '.join(added)}." if added else "nothing was promoted.")
    )
    result = RunResult(plan, "", pushed, applied, already_released=True)
    report(actions, result)
    publish_gate(actions, settings, plan, digest, gated, promotion)
    if signature:
        signing.report(actions, signature)
    return result


def harbor_client(settings: Settings, actions: Actions) -> HarborClient:
    return HarborClient(
        settings.harbor.api_url,
        settings.harbor.credentials.username,
        settings.harbor.credentials.password,
        timeout=settings.harbor.timeout,
        on_retry=actions.info,
    )


def publish_gate(
    actions: Actions,
    settings: Settings,
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
            settings.harbor.api_url,
            plan.repository,
            gated,
            promotion.tags_after,
            promotion.skipped,
        ),
        sarif_location(settings.build.dockerfile),
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
