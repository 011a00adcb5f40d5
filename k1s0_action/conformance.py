"""The image rules S1-S5 and V4 as pure checks: Dockerfile facts and image facts in, one result per
rule out, with what was found and how to fix it; plus the job-summary table and the settings.

The facts come from k1s0_action.dockerfile_facts (a real Dockerfile parser) and
k1s0_action.image_facts (the Docker engine); k1s0_action.conformance_check wires them together.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from k1s0_action.dockerfile_facts import DockerfileFacts, Instruction, copy_of
from k1s0_action.errors import ActionError, InputError
from k1s0_action.hadolint import LintResult, sarif_run
from k1s0_action.image_facts import PACKAGE_MANAGERS, SHELLS, ImageFacts
from k1s0_action.inputs import parse_choice, raw_input

MODES = ("enforce", "warn", "off")
DEFAULT_PORT = 8080
RUST_RUNTIME = "gcr.io/distroless/cc-debian12"
STATIC_RUNTIME = "nginx:1.27-alpine"


class Outcome(StrEnum):
    PASSED = "pass"
    BROKEN = "fail"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class ApprovedBase:
    pattern: str  # repository[:tag] with * and ? globs; no tag matches every tag
    origin: str  # the S3 row it comes from, or the input


# Rule S3's runtime column. Distroless is listed by the tags that carry no shell: the `debug`
# variants add busybox and are not approved (V4).
S3_RUNTIME_BASES = (
    ApprovedBase(f"{RUST_RUNTIME}:latest", "S3 Rust"),
    ApprovedBase(f"{RUST_RUNTIME}:nonroot", "S3 Rust"),
    ApprovedBase(STATIC_RUNTIME, "S3 React, Flutter Web"),
    ApprovedBase("nginx:1.27.*-alpine", "S3 React, Flutter Web"),
)


@dataclass(frozen=True)
class Settings:
    mode: str = "enforce"
    port: int | None = DEFAULT_PORT  # None: the image serves nothing
    approved_bases: tuple[str, ...] = ()  # the input's patterns, added to S3's

    @property
    def input_bases(self) -> tuple[ApprovedBase, ...]:
        return tuple(ApprovedBase(p, "input approved-bases") for p in self.approved_bases)

    @property
    def bases(self) -> tuple[ApprovedBase, ...]:
        return (*S3_RUNTIME_BASES, *self.input_bases)


@dataclass(frozen=True)
class RuleResult:
    rule: str  # S1 ... S5, V4
    check: str  # what was checked, a few words
    source: str  # "Dockerfile" or "image"
    outcome: Outcome
    found: str  # what was found (never a secret's value)
    fix: str = ""  # how to make it hold, for a broken rule
    line: int = 0  # the Dockerfile line it is about, when there is one

    @property
    def broken(self) -> bool:
        return self.outcome is Outcome.BROKEN

    def message(self) -> str:
        """One line: the rule id first, what was found, how to fix it."""
        where = f" (line {self.line})" if self.line else ""
        return f"{self.rule}: {self.found}{where}" + (f"; {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class ConformanceReport:
    dockerfile: str
    image: str  # "" when only the Dockerfile was checked
    mode: str
    results: tuple[RuleResult, ...]
    lint: LintResult | None = None

    @property
    def broken(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.broken)

    @property
    def passed(self) -> bool:
        return not self.broken


class ConformanceError(ActionError):
    """The image breaks image rules under `conformance: enforce`; it was not pushed."""

    def __init__(self, report: ConformanceReport) -> None:
        rules = ", ".join(dict.fromkeys(r.rule for r in report.broken))
        super().__init__(
            f"the image breaks {len(report.broken)} image rule(s) ({rules}) and was not pushed; "
            "fix the lines above, or set conformance: warn to push it anyway"
        )
        self.report = report


# -- settings -----------------------------------------------------------------------------------


def parse_port(value: str) -> int | None:
    text = value.strip().lower()
    if text == "none":
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InputError("port", f"'{value}' is not a port; use 1-65535, or none if nothing serves")
    return int(text)


def parse_patterns(value: str) -> tuple[str, ...]:
    patterns = []
    for number, line in enumerate(value.splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if any(c.isspace() for c in text) or text.startswith((":", "@")):
            raise InputError(
                "approved-bases",
                f"line {number} '{text}' is not an image pattern; one repository[:tag] per line",
            )
        patterns.append(text)
    return tuple(patterns)


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """The action's inputs `conformance`, `port` and `approved-bases`."""
    return Settings(
        mode=parse_choice("conformance", raw_input(env, "conformance").lower(), MODES),
        port=parse_port(raw_input(env, "port")),
        approved_bases=parse_patterns(raw_input(env, "approved-bases")),
    )


# -- image references ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    repository: str  # normalised: docker.io/library/nginx
    tag: str  # "" when the reference has none
    digest: str


def parse_reference(text: str) -> Reference:
    """Splits an image reference the way the engine resolves it: Docker Hub names get their
    `docker.io/library/` prefix, the digest of a pinned reference is set apart."""
    name, _, digest = text.strip().partition("@")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, _, rest = name.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name}"
        first, _, rest = name.partition("/")
    if first == "docker.io" and "/" not in rest:
        name = f"docker.io/library/{rest}"
    return Reference(repository=name, tag=tag, digest=digest)


def matches(reference: str, pattern: str) -> bool:
    """Repository and tag against a pattern's globs; a pinned digest is ignored, and a pattern
    without a tag matches every tag. A reference without a tag is `latest`, as the engine reads it.
    """
    ref, pat = parse_reference(reference), parse_reference(pattern)
    if not fnmatch.fnmatchcase(ref.repository, pat.repository):
        return False
    if not pat.tag:
        return True
    return fnmatch.fnmatchcase(ref.tag or ("" if ref.digest else "latest"), pat.tag)


def approved_by(reference: str, bases: Iterable[ApprovedBase]) -> ApprovedBase | None:
    return next((base for base in bases if matches(reference, base.pattern)), None)


def base_kind(reference: str) -> str:
    """distroless | alpine | scratch | other, from the name alone (the image rules see inside)."""
    if reference == "scratch":
        return "scratch"
    ref = parse_reference(reference)
    parts = ref.repository.split("/")
    if "distroless" in parts or parts[-1].startswith("distroless"):
        return "distroless"
    if parts[-1] == "alpine" or any(t.startswith("alpine") for t in ref.tag.split("-")):
        return "alpine"
    return "other"


# -- Dockerfile rules ---------------------------------------------------------------------------

_ROOT_USERS = ("", "root", "0")
_SECRET_WORDS = {"password", "passwd", "pass", "pwd", "secret", "token", "apikey", "credentials"}
_SECRET_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key")}
_NOT_SECRET_ENDINGS = {"file", "path", "dir", "url", "uri", "name", "user", "username", "id"}
_CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json", ".ini", ".conf", ".cfg", ".properties")
_CONFIG_NAMES = {".env", "config", "configs", "conf", "settings"}
# The S3 static-file templates copy their server's configuration; that is the image, not the
# service's configuration that S5 says to mount.
_SERVER_CONFIG_DIRS = ("/etc/nginx/",)
_MANIFESTS = ("Cargo.toml", "Cargo.lock")
_CARGO_BUILD = re.compile(r"\bcargo\s+build\b")


def looks_secret(name: str) -> bool:
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    if not words or words[-1] in _NOT_SECRET_ENDINGS:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def _user_fix(kind: str) -> str:
    if kind in ("distroless", "scratch"):
        return "add `USER nonroot:nonroot` to the last stage"
    if kind == "alpine":
        return "add `USER nginx` (uid 101) or a uid-65532 user to the last stage"
    return "add `USER 65532:65532` (a non-root user) to the last stage"


def _is_root(user: str) -> bool:
    return user.split(":", 1)[0].strip().lower() in _ROOT_USERS


def _lineage_instructions(facts: DockerfileFacts, index: int) -> tuple[Instruction, ...]:
    """Instructions that shape a stage, oldest first (its ancestor stages' included)."""
    out: list[Instruction] = []
    for stage in reversed(facts.lineage(index)):
        out.extend(stage.instructions)
    return tuple(out)


def rule_s1(facts: DockerfileFacts) -> RuleResult:
    final = facts.final_stage
    count = len(facts.stages)
    if count < 2:
        return RuleResult(
            "S1",
            "multi-stage build",
            "Dockerfile",
            Outcome.BROKEN,
            f"the Dockerfile has a single stage (FROM {final.base}), so the build tools ship "
            "in the image",
            "build in a first stage and COPY --from it only the artifacts into a runtime stage",
            final.line,
        )
    if final.base_stage is not None:
        return RuleResult(
            "S1",
            "multi-stage build",
            "Dockerfile",
            Outcome.BROKEN,
            f"the last stage is built FROM the stage '{final.base}', so the runtime image "
            "carries that stage's tools",
            "start the last stage FROM a runtime base and COPY --from only the artifacts",
            final.line,
        )
    return RuleResult(
        "S1",
        "multi-stage build",
        "Dockerfile",
        Outcome.PASSED,
        f"{count} stages; the runtime stage starts FROM {final.base}",
    )


def rule_s2(facts: DockerfileFacts, settings: Settings) -> RuleResult:
    base = facts.external_base(facts.final)
    kind = base_kind(base)
    line = facts.final_stage.line
    if kind in ("distroless", "alpine"):
        return RuleResult("S2", "runtime base", "Dockerfile", Outcome.PASSED, f"{base} ({kind})")
    extra = approved_by(base, settings.input_bases)
    if extra is not None:
        return RuleResult(
            "S2",
            "runtime base",
            "Dockerfile",
            Outcome.PASSED,
            f"{base} (approved by the input approved-bases: {extra.pattern})",
        )
    return RuleResult(
        "S2",
        "runtime base",
        "Dockerfile",
        Outcome.BROKEN,
        f"the runtime stage starts FROM {base}, which is neither distroless nor Alpine",
        f"use {RUST_RUNTIME} (compiled services) or {STATIC_RUNTIME} (static files)",
        line,
    )


def rule_s3(facts: DockerfileFacts, settings: Settings) -> RuleResult:
    base = facts.external_base(facts.final)
    approved = approved_by(base, settings.bases)
    if approved is not None:
        return RuleResult(
            "S3",
            "approved runtime base",
            "Dockerfile",
            Outcome.PASSED,
            f"{base} matches {approved.pattern} ({approved.origin})",
        )
    return RuleResult(
        "S3",
        "approved runtime base",
        "Dockerfile",
        Outcome.BROKEN,
        f"the runtime base {base} is not approved (Rust: {RUST_RUNTIME}; React, Flutter Web: "
        f"{STATIC_RUNTIME})",
        "use an approved base, or add a pattern for it to the input approved-bases",
        facts.final_stage.line,
    )


def rule_s4_user(facts: DockerfileFacts) -> RuleResult:
    kind = base_kind(facts.external_base(facts.final))
    users = [i for i in _lineage_instructions(facts, facts.final) if i.keyword == "USER"]
    if not users:
        return RuleResult(
            "S4",
            "USER in the last stage",
            "Dockerfile",
            Outcome.BROKEN,
            "the last stage has no USER, so it runs as its base's user (root unless the base "
            "says otherwise)",
            _user_fix(kind),
            facts.final_stage.line,
        )
    last = users[-1]
    user = last.words[0] if last.words else ""
    if _is_root(user):
        return RuleResult(
            "S4",
            "USER in the last stage",
            "Dockerfile",
            Outcome.BROKEN,
            f"the last stage runs as root (USER {user})",
            _user_fix(kind),
            last.line,
        )
    return RuleResult("S4", "USER in the last stage", "Dockerfile", Outcome.PASSED, f"USER {user}")


def _ports(words: Iterable[str]) -> set[str]:
    return {w.lower() if "/" in w else f"{w}/tcp" for w in words}


def rule_s4_expose(facts: DockerfileFacts, settings: Settings) -> RuleResult:
    if settings.port is None:
        return RuleResult(
            "S4", "EXPOSE the port", "Dockerfile", Outcome.NOT_APPLICABLE, "port: none"
        )
    exposes = [i for i in _lineage_instructions(facts, facts.final) if i.keyword == "EXPOSE"]
    ports = _ports(w for i in exposes for w in i.words)
    wanted = f"{settings.port}/tcp"
    if wanted in ports:
        return RuleResult(
            "S4", "EXPOSE the port", "Dockerfile", Outcome.PASSED, f"EXPOSE {settings.port}"
        )
    found = ", ".join(sorted(ports)) or "none"
    return RuleResult(
        "S4",
        "EXPOSE the port",
        "Dockerfile",
        Outcome.BROKEN,
        f"the last stage does not EXPOSE {settings.port} (exposed: {found})",
        f"add `EXPOSE {settings.port}` to the last stage and listen there (input port: none "
        "for an image that serves nothing)",
        exposes[-1].line if exposes else facts.final_stage.line,
    )


def _copies_sources(instruction: Instruction) -> bool:
    """A COPY/ADD from the build context of more than the Cargo manifests."""
    copy = copy_of(instruction)
    if copy.from_stage:
        return False
    names = [PurePosixPath(s).name for s in copy.sources]
    return not all(name in _MANIFESTS for name in names)


def _is_cargo_build(instruction: Instruction) -> bool:
    return (
        instruction.keyword == "RUN"
        and re.search(r"\bcargo\s+build\b", instruction.value) is not None
    )


def rule_s5_cache(facts: DockerfileFacts) -> RuleResult:
    builds = [
        (stage, i) for stage in facts.stages for i in stage.instructions if _is_cargo_build(i)
    ]
    if not builds:
        return RuleResult(
            "S5",
            "Rust dependency-caching layer",
            "Dockerfile",
            Outcome.NOT_APPLICABLE,
            "no `cargo build` in the Dockerfile",
        )
    stage, last_build = builds[-1]
    manifests: set[str] = set()
    cached = False
    for instruction in _lineage_instructions(facts, stage.index):
        if instruction.keyword in ("COPY", "ADD"):
            copy = copy_of(instruction)
            if not copy.from_stage:
                manifests |= {PurePosixPath(s).name for s in copy.sources} & set(_MANIFESTS)
            if _copies_sources(instruction):
                break
        elif _is_cargo_build(instruction) and manifests == set(_MANIFESTS):
            cached = True
            break
    if cached:
        return RuleResult(
            "S5",
            "Rust dependency-caching layer",
            "Dockerfile",
            Outcome.PASSED,
            "Cargo.toml and Cargo.lock are copied and built before the sources",
        )
    return RuleResult(
        "S5",
        "Rust dependency-caching layer",
        "Dockerfile",
        Outcome.BROKEN,
        "`cargo build` has no dependency-caching layer before the sources are copied",
        "COPY Cargo.toml Cargo.lock first and `cargo build --release` a dummy src/main.rs "
        "before copying the sources",
        last_build.line,
    )


def rule_s5_secrets(facts: DockerfileFacts) -> RuleResult:
    everything = [*facts.global_args, *(i for s in facts.stages for i in s.instructions)]
    hits = [
        (i, name)
        for i in everything
        if i.keyword in ("ARG", "ENV")
        for name, _value in i.keys
        if looks_secret(name)
    ]
    if not hits:
        return RuleResult(
            "S5", "no secrets in ARG/ENV", "Dockerfile", Outcome.PASSED, "no secret-like names"
        )
    shown = ", ".join(f"{i.keyword} {name}" for i, name in hits)
    return RuleResult(
        "S5",
        "no secrets in ARG/ENV",
        "Dockerfile",
        Outcome.BROKEN,
        f"{shown} would bake a secret into the image or its history",
        "mount it at run time (a Kubernetes Secret) or at build time with "
        "`RUN --mount=type=secret`",
        hits[0][0].line,
    )


def _config_like(path: str) -> bool:
    pure = PurePosixPath(path)
    if path in (".", "./") or pure.name in _CONFIG_NAMES or pure.name.startswith(".env"):
        return True
    if any(part in _CONFIG_NAMES for part in pure.parts[:-1]):
        return True
    return pure.suffix.lower() in _CONFIG_SUFFIXES


def rule_s5_config(facts: DockerfileFacts) -> RuleResult:
    final = facts.final_stage
    hits = []
    for instruction in final.instructions:
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        copy = copy_of(instruction)
        if copy.destination.startswith(_SERVER_CONFIG_DIRS):
            continue
        if any(_config_like(source) for source in copy.sources):
            hits.append(instruction)
    if not hits:
        return RuleResult(
            "S5",
            "configuration not baked in",
            "Dockerfile",
            Outcome.PASSED,
            "no configuration files copied into the runtime stage",
        )
    shown = "; ".join(f"{h.keyword} {h.value}" for h in hits)
    return RuleResult(
        "S5",
        "configuration not baked in",
        "Dockerfile",
        Outcome.BROKEN,
        f"the runtime stage copies configuration in ({shown})",
        "mount it instead (a ConfigMap in Kubernetes, `-v ./config:/app/config` locally)",
        hits[0].line,
    )


def dockerfile_rules(facts: DockerfileFacts, settings: Settings) -> tuple[RuleResult, ...]:
    return (
        rule_s1(facts),
        rule_s2(facts, settings),
        rule_s3(facts, settings),
        rule_s4_user(facts),
        rule_s4_expose(facts, settings),
        rule_s5_cache(facts),
        rule_s5_secrets(facts),
        rule_s5_config(facts),
    )


# -- image rules --------------------------------------------------------------------------------

# What Alpine itself is made of, which S2 allows: busybox (also as /bin/sh) and apk.
_ALPINE_ACCEPTED = {"bin/busybox", "usr/bin/busybox", "sbin/apk", "usr/sbin/apk", "usr/bin/apk"}


def _uid_of(name: str, passwd: str) -> str:
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[0] == name:
            return fields[2]
    return ""


def rule_image_user(image: ImageFacts, kind: str) -> RuleResult:
    user = image.user.split(":", 1)[0].strip()
    uid = user if user.isdigit() else _uid_of(user, image.text("etc/passwd"))
    if _is_root(user) or uid == "0":
        shown = f"Config.User '{image.user}'" if image.user else "no Config.User"
        return RuleResult(
            "S4",
            "image runs as non-root",
            "image",
            Outcome.BROKEN,
            f"the image runs as root ({shown})",
            _user_fix(kind),
        )
    detail = f" (uid {uid})" if uid and uid != user else ""
    return RuleResult(
        "S4", "image runs as non-root", "image", Outcome.PASSED, f"Config.User {image.user}{detail}"
    )


def rule_image_port(image: ImageFacts, settings: Settings) -> RuleResult:
    if settings.port is None:
        return RuleResult(
            "S4", "image exposes the port", "image", Outcome.NOT_APPLICABLE, "port: none"
        )
    wanted = f"{settings.port}/tcp"
    if wanted in image.exposed_ports:
        return RuleResult(
            "S4", "image exposes the port", "image", Outcome.PASSED, f"ExposedPorts {wanted}"
        )
    found = ", ".join(image.exposed_ports) or "none"
    return RuleResult(
        "S4",
        "image exposes the port",
        "image",
        Outcome.BROKEN,
        f"the image does not expose {wanted} (ExposedPorts: {found})",
        f"add `EXPOSE {settings.port}` to the last stage (input port: none if it serves nothing)",
    )


def _is_alpine(image: ImageFacts) -> bool:
    return image.has("etc/alpine-release")


def _busybox_applet(image: ImageFacts, path: str) -> bool:
    target = image.link_target(path)
    return "busybox" in PurePosixPath(target).name


def rule_image_tools(image: ImageFacts) -> RuleResult:
    shells = [p for p in SHELLS if image.has(p)]
    managers = [p for p in PACKAGE_MANAGERS if image.has(p)]
    if _is_alpine(image):
        # busybox is accepted as a whole, with every applet linked to it (sh, and on some builds
        # dpkg or rpm applets too); anything else is a tool added on top.
        shells = [p for p in shells if p not in _ALPINE_ACCEPTED and not _busybox_applet(image, p)]
        managers = [
            p for p in managers if p not in _ALPINE_ACCEPTED and not _busybox_applet(image, p)
        ]
    if not shells and not managers:
        found = (
            "Alpine: only busybox and apk, which S2 allows"
            if _is_alpine(image)
            else "no shell and no package manager"
        )
        return RuleResult("V4", "no needless tools", "image", Outcome.PASSED, found)
    parts = []
    if shells:
        parts.append("a shell (" + ", ".join(f"/{p}" for p in shells) + ")")
    if managers:
        parts.append("a package manager (" + ", ".join(f"/{p}" for p in managers) + ")")
    fix = (
        "keep the runtime to Alpine's busybox: install nothing into the runtime stage"
        if _is_alpine(image)
        else f"use a distroless runtime base ({RUST_RUNTIME}) and COPY only the binary into it"
    )
    return RuleResult(
        "V4",
        "no needless tools",
        "image",
        Outcome.BROKEN,
        "the runtime image has " + " and ".join(parts),
        fix,
    )


def image_rules(image: ImageFacts, settings: Settings, base: str = "") -> tuple[RuleResult, ...]:
    kind = "alpine" if _is_alpine(image) else base_kind(base) if base else "other"
    return (
        rule_image_user(image, kind),
        rule_image_port(image, settings),
        rule_image_tools(image),
    )


# -- rendering ----------------------------------------------------------------------------------

_MARK = {Outcome.PASSED: "✅ pass", Outcome.BROKEN: "❌ fail", Outcome.NOT_APPLICABLE: "n/a"}
LINT_CAP = 20


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'") or "-"


def summary_markdown(report: ConformanceReport) -> str:
    """The job summary's table: every rule checked, its result, and what was found."""
    verdict = "all rules hold" if report.passed else f"{len(report.broken)} rule(s) broken"
    if not report.passed and report.mode == "warn":
        verdict += " (conformance: warn, pushed anyway)"
    subject = _cell(report.dockerfile) + (f", image {_cell(report.image)}" if report.image else "")
    lines = [
        "### Image rules (S1-S5, V4)",
        "",
        f"{subject}: **{verdict}**",
        "",
        "| rule | check | source | result | found | fix |",
        "|---|---|---|---|---|---|",
    ]
    for r in report.results:
        found = r.found + (f" (line {r.line})" if r.line else "")
        lines.append(
            f"| {r.rule} | {r.check} | {r.source} | {_MARK[r.outcome]} | {_cell(found)} "
            f"| {_cell(r.fix)} |"
        )
    lint = report.lint
    if lint is not None:
        lines.append("")
        if not lint.ran:
            lines.append(f"hadolint: not run ({_cell(lint.note)})")
        elif not lint.findings:
            lines.append("hadolint: no findings")
        else:
            lines.append(f"hadolint: {len(lint.findings)} finding(s), reported as warnings")
            lines.append("")
            lines.append("| line | code | level | message |")
            lines.append("|---|---|---|---|")
            for f in lint.findings[:LINT_CAP]:
                lines.append(
                    f"| {f.line} | [{f.code}]({f.help_uri}) | {f.level} | {_cell(f.message)} |"
                )
            if len(lint.findings) > LINT_CAP:
                lines.append(f"| | | | and {len(lint.findings) - LINT_CAP} more |")
    return "\n".join(lines) + "\n"


def messages(report: ConformanceReport) -> tuple[str, ...]:
    """One line per broken rule, rule id first."""
    return tuple(r.message() for r in report.broken)


def hadolint_sarif_run(report: ConformanceReport, location: str) -> dict[str, Any] | None:
    """hadolint's findings as one SARIF 2.1.0 run (every result at warning level), for the same
    SARIF file as the scan's; None when hadolint did not run. `location` is the Dockerfile's
    workspace-relative URI."""
    if report.lint is None or not report.lint.ran:
        return None
    return sarif_run(report.lint.findings, location)
