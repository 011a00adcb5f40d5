"""The conformance check's parts that need no Docker engine: the Dockerfile parser's facts, the
export reader on real tar streams, hadolint (the pinned binary) and the `conformance` command on
Dockerfiles alone, the S3 templates, `init`, and the examples it generated."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from k1s0_action import (
    cli,
    conformance,
    conformance_check,
    dockerfile_facts,
    hadolint,
    init,
    report,
)
from k1s0_action.errors import InputError
from k1s0_action.gha import Actions
from k1s0_action.image_facts import scan_export
from k1s0_action.outcome import RunOutcome

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = {
    "rust-server": init.InitRequest("rust", "auth", ROOT / "examples" / "rust-server", "system"),
    "react-client": init.InitRequest(
        "react", "order-client", ROOT / "examples" / "react-client", "service"
    ),
    "flutter-web-client": init.InitRequest(
        "flutter-web",
        "ledger-client",
        ROOT / "examples" / "flutter-web-client",
        "business",
        "accounting",
    ),
}


# -- Dockerfile facts ---------------------------------------------------------------------------


def test_stages_bases_and_lines_come_from_the_parser() -> None:
    facts = dockerfile_facts.parse(
        "# syntax comment\nARG BASE=busybox:1.35\nFROM ${BASE} AS deps\nRUN a \\\n  && b\n"
        "FROM deps AS build\nENV A=1 B=$A\nFROM scratch\nCOPY --from=build /x /y\n"
    )
    assert [(s.name, s.base, s.base_stage, s.line) for s in facts.stages] == [
        ("deps", "busybox:1.35", None, 3),
        ("build", "deps", 0, 6),
        ("", "scratch", None, 8),
    ]
    assert facts.stages[0].instructions[0].value == "a   && b"
    # As Docker does: $A in the same ENV is the value from before the instruction (unset here).
    assert facts.stages[1].instructions[0].keys == (("A", "1"), ("B", ""))
    assert facts.external_base(1) == "busybox:1.35"
    assert [a.keys for a in facts.global_args] == [(("BASE", "busybox:1.35"),)]


@pytest.mark.parametrize(
    ("line", "sources", "destination", "from_stage"),
    [
        ("COPY a b /dst/", ("a", "b"), "/dst/", ""),
        ('COPY --from=build --chown=1:1 ["/a b", "/c"]', ("/a b",), "/c", "build"),
        ('COPY "x y" z', ("x y",), "z", ""),
        ("ADD --chmod=644 file.tar /", ("file.tar",), "/", ""),
    ],
)
def test_copy_sources(
    line: str, sources: tuple[str, ...], destination: str, from_stage: str
) -> None:
    facts = dockerfile_facts.parse(f"FROM scratch\n{line}\n")
    copy = dockerfile_facts.copy_of(facts.stages[0].instructions[0])
    assert (copy.sources, copy.destination, copy.from_stage) == (sources, destination, from_stage)


def test_a_file_without_from_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has no FROM"):
        dockerfile_facts.parse("RUN true\n")
    with pytest.raises(InputError, match="cannot read"):
        dockerfile_facts.read(tmp_path / "missing")


# -- the export reader --------------------------------------------------------------------------


def tar_stream(entries: list[tarfile.TarInfo], contents: dict[str, bytes]) -> list[bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for entry in entries:
            data = contents.get(entry.name)
            if data is not None:
                entry.size = len(data)
                tar.addfile(entry, io.BytesIO(data))
            else:
                tar.addfile(entry)
    raw = buffer.getvalue()
    return [raw[i : i + 777] for i in range(0, len(raw), 777)]  # odd chunks, as the SDK streams


def test_the_export_reader_keeps_watched_paths_links_and_small_files() -> None:
    sh = tarfile.TarInfo("bin/sh")
    sh.type, sh.linkname = tarfile.SYMTYPE, "/bin/busybox"
    entries = [
        tarfile.TarInfo("bin/busybox"),
        sh,
        tarfile.TarInfo("etc/alpine-release"),
        tarfile.TarInfo("etc/passwd"),
        tarfile.TarInfo("usr/share/big.bin"),
    ]
    contents = {
        "bin/busybox": b"\x7fELF" + b"x" * 5000,
        "etc/alpine-release": b"3.20.3\n",
        "etc/passwd": b"root:x:0:0::/root:/bin/sh\n",
        "usr/share/big.bin": b"y" * 20000,
    }
    facts = scan_export(
        "img", {"User": "nginx", "ExposedPorts": {"8080/tcp": {}}}, tar_stream(entries, contents)
    )
    assert facts.present == ("bin/busybox", "bin/sh", "etc/alpine-release", "etc/passwd")
    assert facts.link_target("bin/sh") == "/bin/busybox"
    assert facts.text("etc/passwd").startswith("root:x:0:0")
    assert facts.text("etc/alpine-release") == "3.20.3\n"
    assert (facts.user, facts.exposed_ports) == ("nginx", ("8080/tcp",))


# -- hadolint -----------------------------------------------------------------------------------


def test_hadolint_json_is_read_into_findings() -> None:
    text = (
        '[{"code":"DL3008","column":1,"file":"Dockerfile","level":"warning","line":3,'
        '"message":"Pin versions in apt get install."}]'
    )
    (finding,) = hadolint.parse_output(text)
    assert finding == hadolint.Finding(
        "DL3008", "warning", 3, 1, "Pin versions in apt get install."
    )
    assert finding.help_uri.endswith("/wiki/DL3008")
    (result,) = hadolint.sarif_results((finding,), "svc/Dockerfile")
    assert result["level"] == "warning"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    run = hadolint.sarif_run((finding,), "svc/Dockerfile")
    assert run["tool"]["driver"]["rules"][0]["id"] == "DL3008"


def test_the_pinned_hadolint_runs_on_a_dockerfile(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM ubuntu\nRUN apt-get update && apt-get install -y curl\n")
    result = hadolint.lint(dockerfile)
    assert result.ran, result.note
    codes = {f.code for f in result.findings}
    assert {"DL3006", "DL3008"} <= codes  # untagged base; unpinned apt packages


def test_a_missing_hadolint_is_a_note_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    result = hadolint.lint(tmp_path / "Dockerfile", {"K1S0_HADOLINT": str(tmp_path / "none")})
    assert not result.ran and "did not run" in result.note


# -- the conformance command (Dockerfile only) --------------------------------------------------


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["conformance", *args], env={})
    out, err = capsys.readouterr()
    return code, out, err


def test_command_exit_0_on_a_template(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["--context", str(ROOT / "examples" / "rust-server")], capsys)
    assert (code, out) == (0, "")
    assert "all 8 applicable image rules hold" in err


def test_command_exit_1_with_one_line_per_broken_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM ubuntu:24.04\nENV DB_PASSWORD=x\nCMD ["/app"]\n')
    code, out, err = run_cli(["--dockerfile", str(dockerfile), "--port", "9000"], capsys)
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == ["S1", "S2", "S3", "S4", "S4", "S5"]
    assert "EXPOSE 9000" in out
    assert "warning: hadolint" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--dockerfile", "/nonexistent/Dockerfile"],
        ["--context", "/nonexistent"],
        ["--port", "eighty"],
        ["--approved-base", "two words"],
        ["--build-arg", "NOEQUALS"],
    ],
)
def test_command_exit_2_on_bad_input(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--context", str(ROOT / "examples" / "rust-server")]
    code, out, err = run_cli([*base, *args], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: input '")


def test_command_approved_base_extends_s3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    text = (ROOT / "examples" / "rust-server" / "Dockerfile").read_text()
    dockerfile.write_text(text.replace("gcr.io/distroless/cc-debian12:nonroot", "org/base:1.2"))
    assert run_cli(["--dockerfile", str(dockerfile)], capsys)[0] == 1
    code, _, _ = run_cli(
        ["--dockerfile", str(dockerfile), "--approved-base", "org/base:1.*"], capsys
    )
    assert code == 0


# -- templates, init and the examples -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_examples_are_what_init_writes(name: str) -> None:
    for relative, text in init.render(EXAMPLES[name]):
        assert (EXAMPLES[name].directory / relative).read_text() == text, relative


@pytest.mark.parametrize("template", init.TEMPLATES)
def test_each_template_passes_the_dockerfile_rules_and_hadolint(
    template: str, tmp_path: Path
) -> None:
    written = init.write(init.InitRequest(template, "svc-a", tmp_path, "service"))
    names = {str(p.relative_to(tmp_path)) for p in written}
    assert {"Dockerfile", ".dockerignore", ".github/workflows/image.yml"} <= names
    assert ("nginx.conf" in names) is (template != "rust")
    facts = dockerfile_facts.read(tmp_path / "Dockerfile")
    results = conformance.dockerfile_rules(facts, conformance.Settings())
    assert [r.message() for r in results if r.broken] == []
    lint = hadolint.lint(tmp_path / "Dockerfile")
    assert lint.ran
    assert {f.level for f in lint.findings} <= {"info", "style"}, lint.findings


def test_init_fills_the_service_and_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "order-api"
    code = cli.main(["init", "--template", "rust", "--dir", str(target)], env={})
    assert code == 0
    dockerfile = (target / "Dockerfile").read_text()
    assert "/src/target/release/order-api /app/order-api" in dockerfile
    assert "target/release/deps/order_api-*" in dockerfile
    workflow = (target / ".github" / "workflows" / "image.yml").read_text()
    assert "service: order-api\n" in workflow and "layer: service\n" in workflow
    assert "domain:" not in workflow and "@" + "SERVICE@" not in workflow
    capsys.readouterr()
    # A second run does not overwrite the team's files.
    assert cli.main(["init", "--template", "rust", "--dir", str(target)], env={}) == 2
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--template", "rust", "--service", "Bad Name"], "input 'service'"),
        (["--template", "react", "--layer", "platform"], "input 'layer'"),
        (["--template", "react", "--layer", "business"], "input 'domain'"),
    ],
)
def test_init_bad_input(
    args: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init", *args, "--dir", str(tmp_path / "x")], env={}) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# -- the pipeline's step: annotations and the summary -------------------------------------------


def report_of(mode: str) -> conformance.ConformanceReport:
    facts = dockerfile_facts.parse("FROM ubuntu:24.04\nUSER 1\nEXPOSE 8080\n")
    lint = hadolint.LintResult(True, (hadolint.Finding("DL3007", "warning", 1, 1, "pin it"),))
    results = conformance.dockerfile_rules(facts, conformance.Settings(mode=mode))
    return conformance.ConformanceReport("Dockerfile", "", mode, results, lint)


@pytest.mark.parametrize(("mode", "command"), [("enforce", "::error"), ("warn", "::warning")])
def test_each_broken_rule_is_annotated_and_the_summary_has_the_table(
    mode: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    summary.touch()
    actions = Actions({"GITHUB_STEP_SUMMARY": str(summary)}, stream=io.StringIO())
    checked = report_of(mode)
    conformance_check.annotate(checked, actions)
    # The table is part of the run's one summary, written by the report module.
    report.publish(actions, RunOutcome(conformance=checked))
    out = capsys.readouterr().out.splitlines()
    rules = [line for line in out if line.startswith(command) and "image rule" in line]
    assert [line.split("::", 2)[2].split(":")[0] for line in rules] == ["S1", "S2", "S3"]
    assert any(line.startswith("::warning") and "hadolint DL3007" in line for line in out)
    table = summary.read_text()
    assert "### Image rules (S1-S5, V4)" in table and "[DL3007]" in table


def test_off_or_no_settings_skip_the_check_without_the_engine() -> None:
    actions = Actions({}, stream=io.StringIO())
    off = conformance.Settings(mode="off")
    for settings in (None, off):
        skipped = conformance_check.after_build(None, settings, Path("x"), (), "", "i", actions)
        assert skipped is None


def test_hadolint_sarif_run_for_the_report() -> None:
    run = conformance.hadolint_sarif_run(report_of("enforce"), "svc/Dockerfile")
    assert run is not None
    assert run["tool"]["driver"]["name"] == "hadolint"
    assert [r["level"] for r in run["results"]] == ["warning"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "svc/Dockerfile"
    }
    not_run = conformance.ConformanceReport("D", "", "enforce", (), hadolint.LintResult(False))
    assert conformance.hadolint_sarif_run(not_run, "D") is None
