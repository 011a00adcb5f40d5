"""The conformance check's I/O: read the Dockerfile, the built image and hadolint, judge them with
k1s0_action.conformance, and (in the action) stop a non-conforming image before the push."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k1s0_action import conformance, dockerfile_facts, hadolint, image_facts
from k1s0_action.conformance import ConformanceError, ConformanceReport, Settings
from k1s0_action.gha import Actions

LINT_ANNOTATIONS = 10


@dataclass(frozen=True)
class CheckRequest:
    dockerfile: Path
    settings: Settings
    build_args: tuple[tuple[str, str], ...] = ()
    target: str = ""
    image: str = ""  # a local image to check too ("" checks the Dockerfile only)
    lint: bool = True


def check(
    request: CheckRequest, client: Any = None, env: Mapping[str, str] | None = None
) -> ConformanceReport:
    """Every rule that applies: the Dockerfile's always, the image's when `request.image` is set
    (then `client` is a docker.APIClient)."""
    facts = dockerfile_facts.read(request.dockerfile, dict(request.build_args), request.target)
    results = conformance.dockerfile_rules(facts, request.settings)
    if request.image:
        image = image_facts.read(client, request.image)
        base = facts.external_base(facts.final)
        results += conformance.image_rules(image, request.settings, base)
    lint = hadolint.lint(request.dockerfile, env) if request.lint else None
    return ConformanceReport(
        dockerfile=str(request.dockerfile),
        image=request.image,
        mode=request.settings.mode,
        results=results,
        lint=lint,
    )


def after_build(
    client: Any,
    settings: Settings | None,
    dockerfile: Path,
    build_args: tuple[tuple[str, str], ...],
    target: str,
    image: str,
    actions: Actions,
) -> ConformanceReport | None:
    """The pipeline's step between build and push: under `enforce` a broken rule raises
    ConformanceError (after one error line per rule), under `warn` each is a warning."""
    if settings is None or settings.mode == "off":
        return None
    with actions.group(f"Image rules {image}"):
        report = check(CheckRequest(dockerfile, settings, build_args, target, image), client=client)
        for result in report.results:
            actions.info(f"{result.outcome.value:>4}  {result.message()}")
    annotate(report, actions)
    if not report.passed and settings.mode == "enforce":
        raise ConformanceError(report)
    return report


def annotate(report: ConformanceReport, actions: Actions) -> None:
    """One annotation per broken rule (hadolint's as warnings); the summary's table is written
    by k1s0_action.report from the run's outcome."""
    emit = actions.error if report.mode == "enforce" else actions.warning
    for result in report.broken:
        emit(result.message(), title=f"image rule {result.rule}")
    findings = report.lint.findings if report.lint is not None else ()
    for finding in findings[:LINT_ANNOTATIONS]:
        actions.warning(
            f"hadolint {finding.code} (line {finding.line}): {finding.message}",
            title=f"hadolint {finding.code}",
        )
    if len(findings) > LINT_ANNOTATIONS:
        actions.warning(
            f"hadolint: {len(findings) - LINT_ANNOTATIONS} more finding(s) in the job summary"
        )
