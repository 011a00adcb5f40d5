"""The build plan: image name, tags and labels from inputs and the git context (no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import semver

from k1s0_action.cleanup import BRANCH_LABEL, PULL_REQUEST_LABEL
from k1s0_action.context import GitContext
from k1s0_action.errors import InputError
from k1s0_action.naming import Layer, harbor_project, image_name, repository_name
from k1s0_action.tags import MAX_TAG_LENGTH, TagPlan, branch_tags, release_tags, short_sha
from k1s0_action.versioning import parse_version, tag_version


@dataclass(frozen=True)
class PlanRequest:
    service: str
    layer: Layer
    version: str
    domain: str
    registry: str
    project_prefix: str


@dataclass(frozen=True)
class BuildPlan:
    image: str
    registry: str
    project: str
    repository: str
    tags: TagPlan
    version: semver.Version | None  # None: not a release build
    labels: tuple[tuple[str, str], ...]

    @property
    def version_label(self) -> str:
        """What the image calls its version: the release, else the build tag."""
        return str(self.version) if self.version else self.tags.push_tag

    @property
    def push_ref(self) -> str:
        return f"{self.image}:{self.tags.push_tag}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "image": self.image,
                "push_tag": self.tags.push_tag,
                "promote_tags": list(self.tags.promote_tags),
                "tags": list(self.tags.all_tags),
                "labels": dict(self.labels),
            },
            indent=2,
        )


def oci_labels(
    context: GitContext, title: str, version_label: str, created: datetime, release: bool = False
) -> tuple[tuple[str, str], ...]:
    labels = [
        ("org.opencontainers.image.created", created.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("org.opencontainers.image.revision", context.sha),
        ("org.opencontainers.image.title", title),
        ("org.opencontainers.image.version", version_label),
    ]
    if context.source_url:
        labels.append(("org.opencontainers.image.source", context.source_url))
    if not release and not context.ref.startswith("refs/tags/"):
        # Where a branch build came from, for the cleanup (T6): the tag cannot be mapped back.
        labels.append((BRANCH_LABEL, context.branch))
        if context.is_pull_request and context.pull_request:
            labels.append((PULL_REQUEST_LABEL, str(context.pull_request)))
    return tuple(sorted(labels))


def release_version(request: PlanRequest, context: GitContext) -> semver.Version | None:
    """The release this build makes, or None when it is not a release.

    A git tag that is a semantic version is the release (leading 'v' dropped, as
    metadata-action's type=semver reads it); a `version` input must then agree with it. Any other
    git tag (`nightly`) is not a release. A push to the default branch releases `version`.
    """
    if context.is_pull_request:
        return None
    if context.ref.startswith("refs/tags/"):
        tag = context.ref.removeprefix("refs/tags/")
        from_tag = tag_version(tag)
        if from_tag is None:
            return None
        if request.version and parse_version(request.version) != from_tag:
            raise InputError(
                "version",
                f"'{request.version}' differs from the pushed git tag '{tag}'; leave 'version' "
                "empty on tag pushes or make the two agree",
            )
        return from_tag
    if context.branch != context.default_branch:
        return None
    return parse_version(request.version)


def check_tags(tags: TagPlan) -> None:
    for tag in tags.all_tags:
        if len(tag) > MAX_TAG_LENGTH:
            raise InputError(
                "version",
                f"makes the tag '{tag[:40]}...' {len(tag)} characters long, over Docker's "
                f"limit of {MAX_TAG_LENGTH}; use a shorter version",
            )


def make_plan(request: PlanRequest, context: GitContext, created: datetime) -> BuildPlan:
    image = image_name(
        request.registry, request.project_prefix, request.layer, request.service, request.domain
    )
    sha7 = short_sha(context.sha)
    version = release_version(request, context)
    tags = release_tags(version, sha7) if version else branch_tags(context.branch, sha7)
    check_tags(tags)
    name = repository_name(request.layer, request.service, request.domain)
    version_label = str(version) if version else tags.push_tag
    return BuildPlan(
        image=image,
        registry=request.registry,
        project=harbor_project(request.project_prefix, request.layer),
        repository=name,
        tags=tags,
        version=version,
        labels=oci_labels(context, name, version_label, created, release=version is not None),
    )
