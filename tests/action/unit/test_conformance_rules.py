"""The image rules S1-S5 and V4 as tables: Dockerfile text (parsed by the real parser) and image
facts in, each rule's outcome and its one-line message out."""

from __future__ import annotations

import pytest

from k1s0_action import conformance as c
from k1s0_action.dockerfile_facts import parse
from k1s0_action.errors import InputError
from k1s0_action.image_facts import ImageFacts

RUST_OK = """\
FROM rust:1.82-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && cargo build --release && rm -rf src
COPY . .
RUN cargo build --release

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/app /app
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/app"]
"""


def results(text: str, settings: c.Settings | None = None, **kw: str) -> dict[str, c.RuleResult]:
    facts = parse(text, build_args=kw)
    return {f"{r.rule} {r.check}": r for r in c.dockerfile_rules(facts, settings or c.Settings())}


def broken(text: str, settings: c.Settings | None = None, **kw: str) -> list[str]:
    return [r.message() for r in results(text, settings, **kw).values() if r.broken]


def test_the_s3_rust_template_of_the_spec_holds_every_rule() -> None:
    outcome = results(RUST_OK)
    assert {k: r.outcome for k, r in outcome.items() if r.broken} == {}
    assert outcome["S5 Rust dependency-caching layer"].outcome is c.Outcome.PASSED


def test_a_single_stage_from_ubuntu_as_root_breaks_s1_s2_s3_s4() -> None:
    lines = broken('FROM ubuntu:24.04\nRUN apt-get update\nCOPY app /app\nCMD ["/app"]\n')
    assert [line.split(":")[0] for line in lines] == ["S1", "S2", "S3", "S4", "S4"]
    assert lines[0].startswith("S1: the Dockerfile has a single stage (FROM ubuntu:24.04)")
    assert "add `USER 65532:65532`" in lines[3]
    assert "does not EXPOSE 8080" in lines[4]


def test_the_last_stage_built_from_a_build_stage_breaks_s1() -> None:
    text = "FROM rust:1.82-bookworm AS build\nRUN true\nFROM build\nUSER 1000\nEXPOSE 8080\n"
    (s1,) = [r for r in results(text).values() if r.rule == "S1"]
    assert s1.broken and "stage 'build'" in s1.found
    # S2/S3 follow the stage to the image it starts from.
    assert "rust:1.82-bookworm" in results(text)["S3 approved runtime base"].found


@pytest.mark.parametrize(
    ("base", "kind"),
    [
        ("gcr.io/distroless/cc-debian12", "distroless"),
        ("gcr.io/distroless/static-debian12:nonroot", "distroless"),
        ("alpine:3.20", "alpine"),
        ("nginx:1.27-alpine", "alpine"),
        ("python:3.12-alpine3.20", "alpine"),
        ("nginx:1.27-alpine@sha256:" + "a" * 64, "alpine"),
        ("scratch", "scratch"),
        ("ubuntu:24.04", "other"),
        ("nginx:1.27", "other"),
        ("harbor.example.com/k1s0-infra/base:1", "other"),
    ],
)
def test_base_kinds_from_the_name(base: str, kind: str) -> None:
    assert c.base_kind(base) == kind


@pytest.mark.parametrize(
    ("reference", "pattern", "expected"),
    [
        ("nginx:1.27-alpine", "nginx:1.27-alpine", True),
        ("docker.io/library/nginx:1.27-alpine", "nginx:1.27-alpine", True),
        ("nginx:1.27-alpine@sha256:" + "b" * 64, "nginx:1.27-alpine", True),  # digest ignored
        ("nginx:1.27.3-alpine", "nginx:1.27.*-alpine", True),
        ("nginx:1.26-alpine", "nginx:1.27-alpine", False),
        ("nginx:1.27", "nginx:1.27-alpine", False),
        ("evil.example.com/nginx:1.27-alpine", "nginx:1.27-alpine", False),  # repository counts
        ("gcr.io/distroless/cc-debian12", "gcr.io/distroless/cc-debian12:latest", True),
        ("gcr.io/distroless/cc-debian12:debug", "gcr.io/distroless/cc-debian12:latest", False),
        ("gcr.io/distroless/cc-debian12:debug", "gcr.io/distroless/cc-debian12:nonroot", False),
        ("harbor.example.com/k1s0-infra/base:2.1", "harbor.example.com/k1s0-infra/base", True),
        ("harbor.example.com/k1s0-infra/base:2.1", "harbor.example.com/k1s0-infra/*:2.*", True),
        ("localhost:5000/base:1", "localhost:5000/base:1", True),
    ],
)
def test_approved_base_patterns_match_repository_and_tag(
    reference: str, pattern: str, expected: bool
) -> None:
    assert c.matches(reference, pattern) is expected


def test_s3_default_table_and_the_input_extend_each_other() -> None:
    text = "ARG RUNTIME\n" + RUST_OK.replace("gcr.io/distroless/cc-debian12:nonroot", "${RUNTIME}")
    assert not results(text, RUNTIME="nginx:1.27-alpine")["S3 approved runtime base"].broken
    mine = "harbor.example.com/k1s0-infra/distroless-base:1.0"
    assert results(text, RUNTIME=mine)["S3 approved runtime base"].broken
    extended = c.Settings(approved_bases=("harbor.example.com/k1s0-infra/*:1.*",))
    passed = results(text, extended, RUNTIME=mine)
    assert not passed["S3 approved runtime base"].broken
    assert "input approved-bases" in passed["S3 approved runtime base"].found
    # An approved base the name cannot classify counts as S2-compliant: the org vouches for it.
    other = "harbor.example.com/k1s0-infra/base:1.0"
    assert not results(text, extended, RUNTIME=other)["S2 runtime base"].broken


def test_platform_flags_of_a2_are_understood() -> None:
    text = RUST_OK.replace("FROM rust", "FROM --platform=$BUILDPLATFORM rust").replace(
        "FROM gcr.io", "FROM --platform=linux/amd64 gcr.io"
    )
    assert [r.message() for r in results(text).values() if r.broken] == []


def test_build_args_resolve_the_final_base() -> None:
    text = "ARG RUNTIME=ubuntu:24.04\n" + RUST_OK.replace(
        "FROM gcr.io/distroless/cc-debian12:nonroot", "FROM ${RUNTIME}"
    )
    assert results(text)["S3 approved runtime base"].broken
    fixed = results(text, RUNTIME="gcr.io/distroless/cc-debian12:nonroot")
    assert not fixed["S3 approved runtime base"].broken


@pytest.mark.parametrize(
    ("user_lines", "outcome", "fix"),
    [
        ("", "fail", "add `USER nonroot:nonroot` to the last stage"),
        ("USER root\n", "fail", "add `USER nonroot:nonroot` to the last stage"),
        ("USER 0:0\n", "fail", "add `USER nonroot:nonroot` to the last stage"),
        ("USER nonroot\nUSER root\n", "fail", ""),
        ("USER root\nUSER 65532\n", "pass", ""),
        ("ARG UID=65532\nUSER ${UID}\n", "pass", ""),
    ],
)
def test_s4_user_in_the_last_stage(user_lines: str, outcome: str, fix: str) -> None:
    text = (
        "FROM rust:1.82-bookworm AS build\nRUN true\n"
        f"FROM gcr.io/distroless/cc-debian12\n{user_lines}EXPOSE 8080\n"
    )
    result = results(text)["S4 USER in the last stage"]
    assert result.outcome.value == outcome
    assert fix in result.fix


def test_s4_user_fix_on_nginx_names_the_nginx_user() -> None:
    text = "FROM node:22-bookworm AS build\nRUN true\nFROM nginx:1.27-alpine\nEXPOSE 8080\n"
    assert "`USER nginx` (uid 101)" in results(text)["S4 USER in the last stage"].fix


@pytest.mark.parametrize(
    ("expose", "port", "outcome"),
    [
        ("EXPOSE 8080\n", 8080, "pass"),
        ("EXPOSE 8080/tcp\n", 8080, "pass"),
        ("EXPOSE 80\n", 8080, "fail"),
        ("", 8080, "fail"),
        ("EXPOSE 9090\n", 9090, "pass"),
        ("ARG PORT=8080\nEXPOSE ${PORT}\n", 8080, "pass"),
        ("", None, "n/a"),
    ],
)
def test_s4_expose(expose: str, port: int | None, outcome: str) -> None:
    text = f"FROM a AS build\nRUN true\nFROM gcr.io/distroless/cc-debian12\nUSER 1\n{expose}"
    result = results(text, c.Settings(port=port))["S4 EXPOSE the port"]
    assert result.outcome.value == outcome


def test_missing_expose_message() -> None:
    text = "FROM a AS build\nRUN true\nFROM gcr.io/distroless/cc-debian12\nUSER 1\nEXPOSE 80\n"
    (line,) = broken(text)
    assert line == (
        "S4: the last stage does not EXPOSE 8080 (exposed: 80/tcp) (line 5); add `EXPOSE 8080` "
        "to the last stage and listen there (input port: none for an image that serves nothing)"
    )


RUST_NO_CACHE = """\
FROM rust:1.82-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/app /app
USER nonroot:nonroot
EXPOSE 8080
"""


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        (RUST_OK, "pass"),
        (RUST_NO_CACHE, "fail"),
        # Manifests copied but the build runs only after the sources.
        (RUST_OK.replace("&& cargo build --release && rm -rf src", "&& rm -rf src"), "fail"),
        # Only Cargo.toml: a lock file that changes would not invalidate the layer.
        (RUST_OK.replace("COPY Cargo.toml Cargo.lock ./", "COPY Cargo.toml ./"), "fail"),
        # The cache in a stage of its own, the sources in a stage built on it.
        (
            "FROM rust:1.82-bookworm AS deps\nCOPY Cargo.toml Cargo.lock ./\n"
            "RUN cargo build --release\nFROM deps AS build\nCOPY src src\n"
            "RUN cargo build --release\nFROM gcr.io/distroless/cc-debian12\n"
            "COPY --from=build /t /app\nUSER 1\nEXPOSE 8080\n",
            "pass",
        ),
        ("FROM node:22 AS build\nRUN npm ci\nFROM nginx:1.27-alpine\nUSER nginx\n", "n/a"),
    ],
)
def test_s5_rust_dependency_cache(text: str, outcome: str) -> None:
    assert results(text)["S5 Rust dependency-caching layer"].outcome.value == outcome


def test_s5_cache_message_points_at_the_build() -> None:
    (line,) = broken(RUST_NO_CACHE)
    assert line.startswith("S5: `cargo build` has no dependency-caching layer")
    assert "(line 4)" in line and "COPY Cargo.toml Cargo.lock first" in line


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("PASSWORD", True),
        ("NPM_TOKEN", True),
        ("GITHUB_TOKEN", True),
        ("API_KEY", True),
        ("apiKey", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("PRIVATE_KEY", True),
        ("CLIENT_SECRET", True),
        ("DB_PASSWORD_FILE", False),
        ("TOKEN_URL", False),
        ("DB_USER", False),
        ("KEYBOARD_LAYOUT", False),
        ("PATH", False),
        ("RUST_LOG", False),
    ],
)
def test_secret_like_names(name: str, secret: bool) -> None:
    assert c.looks_secret(name) is secret


def test_env_db_password_breaks_s5_without_showing_the_value() -> None:
    text = RUST_OK.replace("USER nonroot:nonroot", "ENV DB_PASSWORD=hunter2 LOG=info\nUSER 1")
    (line,) = broken(text)
    assert line.startswith("S5: ENV DB_PASSWORD would bake a secret into the image")
    assert "(line 10)" in line and "RUN --mount=type=secret" in line
    assert "hunter2" not in line


def test_an_arg_token_in_a_build_stage_breaks_s5_too() -> None:
    text = RUST_OK.replace("WORKDIR /src", "ARG NPM_TOKEN\nWORKDIR /src")
    assert broken(text) == [
        "S5: ARG NPM_TOKEN would bake a secret into the image or its history (line 2); mount it "
        "at run time (a Kubernetes Secret) or at build time with `RUN --mount=type=secret`"
    ]


@pytest.mark.parametrize(
    ("copy", "outcome"),
    [
        ("COPY config.yaml /app/config.yaml", "fail"),
        ("COPY config/ /app/config/", "fail"),
        ("COPY settings/prod.toml /etc/app/", "fail"),
        ("COPY .env /app/.env", "fail"),
        ("COPY --from=build /src/app.json /app/", "fail"),
        ("COPY . /app", "fail"),
        ("COPY nginx.conf /etc/nginx/nginx.conf", "pass"),  # the S3 static-file server's own
        ("COPY --from=build /src/dist /usr/share/nginx/html", "pass"),
        ("COPY --from=build /src/target/release/app /app", "pass"),
    ],
)
def test_s5_configuration_is_not_copied_into_the_runtime_stage(copy: str, outcome: str) -> None:
    text = f"FROM a AS build\nRUN true\nFROM gcr.io/distroless/cc-debian12\n{copy}\nUSER 1\n"
    assert results(text)["S5 configuration not baked in"].outcome.value == outcome


def test_configuration_in_a_build_stage_is_fine() -> None:
    text = RUST_OK.replace("WORKDIR /src", "WORKDIR /src\nCOPY build.toml ./")
    assert not results(text)["S5 configuration not baked in"].broken


def test_target_picks_the_stage_that_is_checked() -> None:
    text = RUST_OK + "FROM ubuntu:24.04 AS debug\n"
    assert results(text)["S3 approved runtime base"].broken
    facts = parse(text, target="build")
    assert facts.final_stage.name == "build"
    with pytest.raises(InputError, match="input 'target': 'nope' is not a stage"):
        parse(text, target="nope")


# -- image rules --------------------------------------------------------------------------------


def image(
    user: str = "65532",
    ports: tuple[str, ...] = ("8080/tcp",),
    present: tuple[str, ...] = (),
    links: tuple[tuple[str, str], ...] = (),
    files: tuple[tuple[str, str], ...] = (),
) -> ImageFacts:
    return ImageFacts("app:test", user, ports, present, links, files)


def image_results(facts: ImageFacts, settings: c.Settings | None = None) -> list[c.RuleResult]:
    return list(c.image_rules(facts, settings or c.Settings(), "gcr.io/distroless/cc-debian12"))


PASSWD = "root:x:0:0::/root:/bin/sh\nnginx:x:101:101::/:/sbin/nologin\nboss:x:0:0::/:/bin/sh\n"


@pytest.mark.parametrize(
    ("user", "outcome"),
    [
        ("", "fail"),
        ("root", "fail"),
        ("0", "fail"),
        ("0:0", "fail"),
        ("boss", "fail"),  # a name whose uid is 0 in the image's /etc/passwd
        ("nginx", "pass"),
        ("65532:65532", "pass"),
        ("nonroot:nonroot", "pass"),
    ],
)
def test_image_user(user: str, outcome: str) -> None:
    facts = image(user=user, files=(("etc/passwd", PASSWD),))
    assert image_results(facts)[0].outcome.value == outcome


def test_image_root_message() -> None:
    (line,) = [r.message() for r in image_results(image(user="")) if r.broken]
    assert line == (
        "S4: the image runs as root (no Config.User); add `USER nonroot:nonroot` to the last stage"
    )


@pytest.mark.parametrize(
    ("ports", "port", "outcome"),
    [
        (("8080/tcp",), 8080, "pass"),
        (("80/tcp",), 8080, "fail"),
        ((), 8080, "fail"),
        ((), None, "n/a"),
    ],
)
def test_image_port(ports: tuple[str, ...], port: int | None, outcome: str) -> None:
    assert image_results(image(ports=ports), c.Settings(port=port))[1].outcome.value == outcome


ALPINE = ("etc/alpine-release", "bin/busybox", "bin/sh", "sbin/apk")


@pytest.mark.parametrize(
    ("present", "links", "outcome", "found"),
    [
        ((), (), "pass", "no shell and no package manager"),
        (("bin/sh",), (), "fail", "a shell (/bin/sh)"),
        (("bin/busybox",), (), "fail", "a shell (/bin/busybox)"),
        (
            ("bin/sh", "bin/bash", "usr/bin/apt", "usr/bin/dpkg"),
            (),
            "fail",
            "a shell (/bin/sh, /bin/bash) and a package manager (/usr/bin/apt, /usr/bin/dpkg)",
        ),
        (ALPINE, (("bin/sh", "/bin/busybox"),), "pass", "Alpine: only busybox and apk"),
        (ALPINE, (("bin/sh", "busybox"),), "pass", "Alpine"),
        ((*ALPINE, "bin/bash"), (("bin/sh", "/bin/busybox"),), "fail", "a shell (/bin/bash)"),
        ((*ALPINE, "usr/bin/dpkg"), (("bin/sh", "/bin/busybox"),), "fail", "/usr/bin/dpkg"),
        # busybox's own dpkg applet is busybox, which Alpine may have
        ((*ALPINE, "bin/dpkg"), (("bin/sh", "busybox"), ("bin/dpkg", "busybox")), "pass", "Alpine"),
        (ALPINE, (("bin/sh", "/bin/bash"),), "fail", "a shell (/bin/sh)"),
    ],
)
def test_v4_tools_in_the_runtime_image(
    present: tuple[str, ...], links: tuple[tuple[str, str], ...], outcome: str, found: str
) -> None:
    result = image_results(image(present=present, links=links))[2]
    assert result.outcome.value == outcome
    assert found in result.found


def test_v4_message_says_how_to_fix() -> None:
    result = image_results(image(present=("bin/sh", "usr/bin/apt")))[2]
    assert result.message() == (
        "V4: the runtime image has a shell (/bin/sh) and a package manager (/usr/bin/apt); "
        "use a distroless runtime base (gcr.io/distroless/cc-debian12) and COPY only the binary "
        "into it"
    )


# -- settings and rendering ---------------------------------------------------------------------


def test_settings_from_the_inputs() -> None:
    assert c.settings_from_env({}) == c.Settings("enforce", 8080, ())
    env = {
        "INPUT_CONFORMANCE": "Warn",
        "INPUT_PORT": "none",
        "INPUT_APPROVED-BASES": "# ours\nharbor.example.com/k1s0-infra/*:1.*\n\nbusybox:1.36\n",
    }
    assert c.settings_from_env(env) == c.Settings(
        "warn", None, ("harbor.example.com/k1s0-infra/*:1.*", "busybox:1.36")
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"INPUT_CONFORMANCE": "strict"}, "input 'conformance': 'strict' is not allowed"),
        ({"INPUT_PORT": "http"}, "input 'port': 'http' is not a port"),
        ({"INPUT_PORT": "70000"}, "input 'port'"),
        ({"INPUT_APPROVED-BASES": "nginx 1.27"}, "input 'approved-bases': line 1"),
    ],
)
def test_bad_settings_name_the_input(env: dict[str, str], named: str) -> None:
    with pytest.raises(InputError) as caught:
        c.settings_from_env(env)
    assert named in caught.value.diagnostics()


def test_summary_table_lists_every_rule_and_escapes_cells() -> None:
    facts = parse("FROM ubuntu:24.04\nCOPY a|b /x\n")
    results_ = c.dockerfile_rules(facts, c.Settings())
    report = c.ConformanceReport("svc/Dockerfile", "", "enforce", results_)
    table = c.summary_markdown(report)
    assert "svc/Dockerfile: **5 rule(s) broken**" in table
    assert table.count("\n| S") == len(results_)
    assert "| S1 | multi-stage build | Dockerfile | ❌ fail |" in table
    assert "| S5 | Rust dependency-caching layer | Dockerfile | n/a |" in table
    assert c.messages(report)[0].startswith("S1: ")
    error = c.ConformanceError(report)
    assert error.diagnostics().startswith("the image breaks 5 image rule(s) (S1, S2, S3, S4)")
