"""The action's run: plan -> build -> image rules -> push -> scan gate -> sign -> promote.

Each stage records what it did in a `RunRecord`; nothing here writes an output or the job
summary. The command that runs the pipeline hands the record to `k1s0_action.report` once, in a
`finally`, so a failed run is reported from the same value as a successful one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import docker

from k1s0_action import (
    attest,
    builder,
    conformance_check,
    engine,
    gate,
    harbortags,
    multiplatform,
    releasediff,
    report,
    signing,
)
from k1s0_action.conformance import ConformanceError
from k1s0_action.conformance import Settings as ConformanceSettings
from k1s0_action.context import GitContext
from k1s0_action.credentials import Credentials
from k1s0_action.errors import ActionError, InputError, ScanGateError
from k1s0_action.gha import Actions
from k1s0_action.harbor import Artifact, HarborClient, HarborNotFoundError
from k1s0_action.inputs import Settings
from k1s0_action.outcome import PushedImage, ReportSettings, RunOutcome, RunRecord, Stage
from k1s0_action.plan import BuildPlan, make_plan
from k1s0_action.promotion import ImmutableTagError, PromotionPlan

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


def report_settings(settings: Settings) -> ReportSettings:
    return ReportSettings(
        harbor_url=settings.harbor.api_url,
        dockerfile=settings.build.dockerfile,
        push=settings.build.push,
        sign=settings.signing.enabled,
    )


def run(
    settings: Settings,
    context: GitContext,
    actions: Actions,
    now: datetime | None = None,
    conformance: ConformanceSettings | None = None,
    record: RunRecord | None = None,
) -> RunOutcome:
    """Runs every stage. `conformance` (the inputs conformance/port/approved-bases; the command
    always passes them) checks the built image before anything is pushed; None skips it.

    With a `record` the caller reports (the `run` command, which also reports bad inputs);
    without one, this call reports its own outcome before it returns or raises.
    """
    if record is not None:
        record.update(settings=report_settings(settings))
        _run(settings, context, actions, now, conformance, record)
        return record.outcome
    own = RunRecord(report_settings(settings))
    try:
        _run(settings, context, actions, now, conformance, own)
    except ActionError as error:
        own.fail(error.diagnostics())
        raise
    finally:
        report.publish(actions, own.outcome)
    return own.outcome


def _run(
    settings: Settings,
    context: GitContext,
    actions: Actions,
    now: datetime | None,
    conformance: ConformanceSettings | None,
    record: RunRecord,
) -> None:
    given = settings.harbor.credentials
    actions.mask(given.password, given.username)
    for name, message in settings.warnings:
        actions.warning(f"input '{name}': {message}")
    plan = make_plan(settings.plan, context, context.created(now or datetime.now(UTC)))
    record.update(plan=plan)
    build = settings.build
    engine.check_build_inputs(build.context, build.dockerfile)
    creds = credentials(settings, context) if build.push else None

    client = engine.connect(settings.environment)
    harbor: HarborClient | None = None
    if creds:
        engine.login(client, creds)
        harbor = harbor_client(settings, actions)
        # Fail before the build, not after the push, when the robot cannot read what the gate
        # needs (each 403 names the Harbor permission to add).
        gate.preflight(harbor, plan.project, plan.repository)
        if plan.version:
            released = released_artifact(harbor, plan, context)
            if released:
                rerun(settings, context, actions, harbor, plan, released, record)
                return

    backend = builder.select(settings.backend, client, settings.environment, actions.info)
    try:
        built = build_and_push(settings, plan, client, backend, creds, conformance, actions, record)
    finally:
        backend.close()
    if creds is None or harbor is None or not built.digest:
        return
    digest = built.digest
    pushed = PushedImage(plan.image, digest)

    record.enter(Stage.GATE)
    gated = judge(harbor, plan, digest, settings, actions, built.children)
    record.update(gate=gated)
    # Before promotion moves `latest`: the findings against the last release's.
    record.update(
        since_release=releasediff.diff_and_log(
            harbor,
            actions,
            plan.project,
            plan.repository,
            digest,
            plan.version,
            plan.tags.release,
            gated.decision,
        )
    )
    if not gated.passed:
        if not settings.keep_blocked:
            removed = harbortags.remove_blocked(
                harbor, plan.project, plan.repository, digest, plan.tags.push_tag, actions
            )
            record.update(blocked_tag_removed=removed)
        raise ScanGateError(f"{pushed.reference} blocked: {gated.note}")

    # Release tags are checked before signing: an immutable tag on another digest stops the run.
    record.enter(Stage.PROMOTE)
    promotion = release_tags(harbor, plan, digest, gated)
    # Sign only what passed the gate, and promote only what is signed (G1, G2).
    if settings.signing.enabled:
        record.enter(Stage.SIGN)
        record.update(
            signature=signing.sign_and_verify(
                pushed.reference,
                settings.signing,
                creds,
                context,
                actions,
                env=settings.environment,
                version=plan.version_label,
            )
        )
        if settings.attest and built.children:
            # The scan to attest is each platform's, not the index's (which has none of its own).
            actions.warning(
                "attestations are not made for an image index yet; the index is signed",
                title="Attestations",
            )
        elif settings.attest:
            record.update(
                attestations=attest.attest_run(
                    harbor,
                    plan.project,
                    plan.repository,
                    pushed.reference,
                    gated,
                    settings.gate,
                    settings.signing,
                    creds,
                    context,
                    actions,
                    env=settings.environment,
                )
            )
    promote(harbor, plan, digest, promotion, actions, record)


def build_and_push(
    settings: Settings,
    plan: BuildPlan,
    client: docker.APIClient,
    backend: builder.Builder,
    creds: Credentials | None,
    conformance: ConformanceSettings | None,
    actions: Actions,
    record: RunRecord,
) -> builder.BuildResult:
    """BUILD, RULES and PUSH through the build backend. The image rules read the image in the
    local engine, so with them BuildKit builds into the engine first and pushes after the check:
    nothing that breaks an enforced rule reaches Harbor. Returns the build (no digest: not
    pushed)."""
    build = settings.build
    check_image = conformance is not None and conformance.mode != "off"
    spec = build_spec(settings, plan, load=check_image)
    record.enter(Stage.BUILD)
    with actions.group(f"Build {plan.push_ref} ({backend.name})"):
        # With push: false, credentials still given let BuildKit read the cache and bases.
        given = settings.harbor.credentials
        built = backend.build(spec, creds or (given if given.password else None), actions.info)
    if built.cache_note:
        actions.warning(built.cache_note, title="Build cache")
    record.update(image_id=built.image_id)

    # Image rules S1-S5, V4: nothing that breaks them reaches Harbor under enforce.
    record.enter(Stage.RULES)
    try:
        checked = conformance_check.after_build(
            client,
            conformance,
            build.dockerfile,
            build.build_args,
            build.target,
            plan.push_ref,
            actions,
        )
    except ConformanceError as error:
        record.update(conformance=error.report)
        raise
    record.update(conformance=checked)

    if creds is None:
        actions.info(f"push: false; built {plan.push_ref} ({built.image_id}) and stopped")
        return built

    record.enter(Stage.PUSH)
    with actions.group(f"Push {plan.push_ref}"):
        built = backend.push(spec, built, creds, actions.info)
    pushed = PushedImage(plan.image, built.digest)
    record.update(pushed=pushed)
    actions.info(f"pushed {pushed.reference}")
    return built


def build_spec(settings: Settings, plan: BuildPlan, load: bool) -> builder.BuildSpec:
    build = settings.build
    return builder.BuildSpec(
        context=build.context,
        dockerfile=build.dockerfile,
        image=plan.image,
        tag=plan.tags.push_tag,
        build_args=build.build_args,
        labels=plan.labels,
        target=build.target,
        platforms=settings.backend.platforms,
        cache_ref=builder.cache_ref(plan.image) if settings.backend.cache == "harbor" else "",
        push=build.push,
        load=load,
    )


def judge(
    harbor: HarborClient,
    plan: BuildPlan,
    digest: str,
    settings: Settings,
    actions: Actions,
    children: tuple[builder.PlatformImage, ...] = (),
) -> gate.GateResult:
    """The scan gate (of each platform's image when `digest` is an image index), with its
    findings' annotations written to the log."""
    with actions.group(f"Scan gate {plan.image}@{digest}"):
        gated = multiplatform.scan_gate(
            harbor, plan.project, plan.repository, digest, children, settings.gate, actions.info
        )
        for warning in gated.warnings:
            actions.warning(warning.message, title=warning.title)
        for notice in gated.notices:
            actions.notice(notice.message, title=notice.title)
    return gated


def release_tags(
    harbor: HarborClient, plan: BuildPlan, digest: str, gated: gate.GateResult
) -> PromotionPlan:
    """Which release tags the gated digest gets; an immutable tag on another digest raises."""
    return harbortags.plan_release_tags(
        harbor,
        plan.image,
        plan.project,
        plan.repository,
        digest,
        plan.version,
        plan.tags.promote_tags,
        gated.latest_allowed,
    )


def promote(
    harbor: HarborClient,
    plan: BuildPlan,
    digest: str,
    promotion: PromotionPlan,
    actions: Actions,
    record: RunRecord,
) -> None:
    record.enter(Stage.PROMOTE)
    harbortags.promote(
        harbor, plan.image, plan.project, plan.repository, digest, promotion, actions
    )
    record.update(promotion=promotion)


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
    record: RunRecord,
) -> None:
    """This commit's release exists (the job is re-run): check its gate and signature again and
    build nothing. A release tag the earlier run did not get to (it failed between two tags) is
    added now; otherwise nothing is promoted."""
    digest = released.digest
    pushed = PushedImage(plan.image, digest)
    record.update(pushed=pushed, already_released=True, released_tags=released.tags)
    actions.info(
        f"{plan.image}:{plan.version} is already released from this commit as {digest}; "
        "re-checking its scan gate and signature instead of building it again"
    )
    record.enter(Stage.GATE)
    gated = judge(harbor, plan, digest, settings, actions)
    record.update(gate=gated)
    if not gated.passed:
        raise ScanGateError(
            f"{pushed.reference} is released but its scan now blocks it: {gated.note}; "
            "nothing was changed"
        )
    record.enter(Stage.PROMOTE)
    promotion = release_tags(harbor, plan, digest, gated)
    if settings.signing.enabled:
        record.enter(Stage.SIGN)
        record.update(
            signature=signing.verify_released(
                pushed.reference,
                settings.signing,
                settings.harbor.credentials,
                context,
                actions,
                env=settings.environment,
            )
        )
    promote(harbor, plan, digest, promotion, actions, record)


def harbor_client(settings: Settings, actions: Actions) -> HarborClient:
    return HarborClient(
        settings.harbor.api_url,
        settings.harbor.credentials.username,
        settings.harbor.credentials.password,
        timeout=settings.harbor.timeout,
        on_retry=actions.info,
    )
