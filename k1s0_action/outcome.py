"""What one run of the action did, as one value: filled stage by stage, reported once at the end.

The pipeline records each stage's result as it completes; whatever happens next (a blocked scan, a
failed signature, an unexpected error), the command that ran the pipeline hands the record to
`k1s0_action.report`, which writes every output, the job summary and the SARIF file from it. So
every exit, including a failure before anything was built, leaves the same kind of summary.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the record only holds these values; importing them eagerly pulls in I/O
    from k1s0_action.attest import AttestResult
    from k1s0_action.conformance import ConformanceReport
    from k1s0_action.gate import GateResult
    from k1s0_action.plan import BuildPlan
    from k1s0_action.promotion import PromotionPlan
    from k1s0_action.signing import SignatureResult
    from k1s0_action.vulndiff import VulnDiff


class Stage(StrEnum):
    """The stages in the order they run; a run stops at the first that fails."""

    INPUTS = "inputs"
    BUILD = "build"
    RULES = "image rules"
    PUSH = "push"
    GATE = "scan gate"
    SIGN = "sign"
    PROMOTE = "promote"


class StageState(StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_REACHED = "not reached"


@dataclass(frozen=True)
class PushedImage:
    image: str
    digest: str

    @property
    def reference(self) -> str:
        return f"{self.image}@{self.digest}"


@dataclass(frozen=True)
class ReportSettings:
    """What the report needs besides the stages' results: where links and findings point."""

    harbor_url: str = ""
    dockerfile: Path | None = None
    push: bool = True
    sign: bool = True


@dataclass(frozen=True)
class RunOutcome:
    settings: ReportSettings = ReportSettings()
    plan: BuildPlan | None = None
    image_id: str = ""
    conformance: ConformanceReport | None = None  # None: the image rules were not checked
    pushed: PushedImage | None = None
    # A re-run of a released commit: nothing was built; these tags were already on the digest.
    already_released: bool = False
    released_tags: tuple[str, ...] = ()
    gate: GateResult | None = None
    since_release: VulnDiff | None = None
    promotion: PromotionPlan | None = None
    blocked_tag_removed: bool = False
    signature: SignatureResult | None = None
    attestations: AttestResult | None = None
    # Set when the run stopped early: where, and the one line the user reads.
    failed_stage: Stage | None = None
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.failed_stage is None

    @property
    def applied_tags(self) -> tuple[str, ...]:
        """The tags the image carries in Harbor after this run."""
        if self.plan is None or self.pushed is None:
            return ()
        push_tag = self.plan.tags.push_tag
        if self.gate is not None and not self.gate.passed and self.blocked_tag_removed:
            return ()
        promoted = self.promotion.tags_after if self.promotion and self.succeeded else ()
        if self.already_released:
            have = set(self.released_tags) | set(promoted)
            return tuple(tag for tag in self.plan.tags.all_tags if tag in have)
        return (push_tag, *(tag for tag in promoted if tag != push_tag))

    def stage_state(self, stage: Stage) -> StageState:
        order = list(Stage)
        if self.failed_stage is not None:
            if stage == self.failed_stage:
                return StageState.FAILED
            if order.index(stage) > order.index(self.failed_stage):
                return StageState.NOT_REACHED
        if stage == Stage.INPUTS:
            return StageState.DONE
        if self.already_released and stage in (Stage.BUILD, Stage.RULES, Stage.PUSH):
            return StageState.SKIPPED
        if stage == Stage.BUILD:
            return StageState.DONE if self.image_id else StageState.NOT_REACHED
        if stage == Stage.RULES:
            if self.conformance is not None:
                return StageState.DONE
            return StageState.SKIPPED if self.image_id else StageState.NOT_REACHED
        if not self.settings.push:
            return StageState.SKIPPED
        if stage == Stage.PUSH:
            return StageState.DONE if self.pushed else StageState.NOT_REACHED
        if stage == Stage.GATE:
            return StageState.DONE if self.gate else StageState.NOT_REACHED
        if stage == Stage.SIGN:
            if not self.settings.sign:
                return StageState.SKIPPED
            return StageState.DONE if self.signature else StageState.NOT_REACHED
        return StageState.DONE if self.promotion and self.succeeded else StageState.NOT_REACHED


class RunRecord:
    """The pipeline's notebook: the stage it is in and the outcome so far.

    Mutable on purpose, so that what was done before an exception is still there for the report.
    """

    def __init__(self, settings: ReportSettings | None = None) -> None:
        self.stage = Stage.INPUTS
        self.outcome = RunOutcome(settings=settings or ReportSettings())

    def enter(self, stage: Stage) -> None:
        self.stage = stage

    def update(self, **changes: object) -> None:
        self.outcome = replace(self.outcome, **changes)  # type: ignore[arg-type]

    def fail(self, message: str) -> RunOutcome:
        self.outcome = replace(self.outcome, failed_stage=self.stage, error=message)
        return self.outcome
