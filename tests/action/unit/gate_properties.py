"""Strategies and the reference rule for the gate's property tests
(tests/action/unit/test_gate_properties.py, and the longer run in bench/gate_properties.py).

Bodies are drawn from Harbor's own schemas (`../shared/harbor/openapi3-v2.15.2.yaml`, through
hypothesis-jsonschema) and from targeted strategies for the shapes that matter: allowlist expiry
null / past / now / future / 0 / negative, ids with case and space variants, both report MIME
types, null lists, any severity string, missing ids, and overviews that agree with their report
or contradict it in one field.

`reference_passes` is the rule of the README, written independently of the production code (on
the raw JSON, without its parsers or types), so that the two can be compared.
"""

from __future__ import annotations

import copy
import math
import os
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from k1s0_action.errors import ActionError
from k1s0_action.gate import GateSettings, judge
from k1s0_action.harbor import parse_allowlist, parse_overview, parse_project, parse_reports
from k1s0_action.scanreport import Verdict

# As k1s0_stack.harbor.contract finds it: beside the checkout, or $K1S0_HARBOR_SPEC.
SPEC = Path(
    os.environ.get("K1S0_HARBOR_SPEC")
    or Path(__file__).resolve().parents[4] / "shared/harbor/openapi3-v2.15.2.yaml"
)
NOW = datetime(2026, 12, 1, 12, 0, 0, 500000, tzinfo=UTC)
NOW_TS = math.floor(NOW.timestamp())
V11 = "application/vnd.security.vulnerability.report; version=1.1"
V10 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
UNREADABLE = "unreadable"  # the robot may not read the system allowlist

# -- the reference rule --------------------------------------------------------------------------

CODE = {"none": 0, "unknown": 0, "negligible": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


class Fail(Exception):
    """The rule says: not passed (blocked, or a clean error)."""


def _count(value: object) -> int:
    if type(value) is not int or value < 0:
        raise Fail
    return value


def _allowed(allowlist: object) -> set[str]:
    """The ids an allowlist body allows now; Fail when it is not a CVEAllowlist."""
    if allowlist is None:
        return set()
    if not isinstance(allowlist, dict):
        raise Fail
    items = allowlist.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise Fail
    ids = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("cve_id", ""), str):
            raise Fail
        ids.add(item.get("cve_id", ""))
    expires = allowlist.get("expires_at")
    if expires is not None and type(expires) is not int:
        raise Fail
    if expires is not None and expires <= NOW_TS:
        return set()
    return ids


def _severity(value: object) -> str:
    if not isinstance(value, str) or value.lower() not in CODE:
        raise Fail
    return value.lower()


def _findings(entry: object) -> list[tuple[str, str, str, str]]:
    """(id, package, version, severity) of one report entry."""
    if entry is None:
        return []
    if not isinstance(entry, dict):
        raise Fail
    items = entry.get("vulnerabilities")
    if items is None:
        return []
    if not isinstance(items, list):
        raise Fail
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise Fail
        cve = item.get("id")
        if cve is None:
            cve = ""
        if not isinstance(cve, str):
            raise Fail
        found.append(
            (cve, str(item.get("package")), str(item.get("version")), item.get("severity"))
        )
    return [(c, p, v, _severity(s)) for c, p, v, s in found]


def _agrees(entry: dict[str, Any], findings: list[tuple[str, str, str, str]]) -> None:
    """Fail unless a Success overview entry says what its report says."""
    items = list({(c, p, v): s for c, p, v, s in reversed(findings)}.items())
    severity = entry.get("severity")
    if severity is not None and severity != "":
        highest = max((CODE[s] for _, s in items), default=0)
        if CODE[_severity(severity)] != highest:
            raise Fail
    summary = entry.get("summary")
    if summary is None:
        return
    if not isinstance(summary, dict):
        raise Fail
    if summary.get("total") is not None and _count(summary["total"]) != len(items):
        raise Fail
    per = summary.get("summary")
    if per is None:
        return
    if not isinstance(per, dict):
        raise Fail
    claimed: Counter[str] = Counter()
    for name, number in per.items():
        claimed[_severity(name)] += _count(number)
    if +claimed != Counter(s for _, s in items):
        raise Fail


def reference_passes(
    project: dict[str, Any],
    system: object,
    overview: object,
    report: dict[str, Any],
    block: tuple[str, ...],
    ignore: frozenset[str],
) -> bool:
    """The README's rule on the raw bodies."""
    try:
        metadata = project.get("metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict) or any(
            not (isinstance(v, str) or v is None) for v in metadata.values()
        ):
            raise Fail
        own = _allowed(project.get("cve_allowlist"))
        reuse = metadata.get("reuse_sys_cve_allowlist")
        if reuse is None or reuse.lower() in ("true", "1"):
            allowed = set() if system == UNREADABLE else _allowed(system)
        else:
            allowed = own
        if not isinstance(overview, dict):
            raise Fail
        entries = {
            mime: overview[mime]
            for mime in (V11, V10)
            if isinstance(overview.get(mime), dict)
            and isinstance(overview[mime].get("scan_status"), str)
            and overview[mime]["scan_status"]
        }
        if not entries or any(e["scan_status"] != "Success" for e in entries.values()):
            raise Fail
        reports = {mime: _findings(report[mime]) for mime in (V11, V10) if mime in report}
        for mime, entry in entries.items():
            _agrees(entry, reports.get(mime, []))
        lowest = min((CODE[s] for s in block), default=None)
        for cve, _, _, severity in (f for found in reports.values() for f in found):
            if lowest is None or CODE[severity] < lowest:
                continue
            if not cve or (cve not in allowed and cve not in ignore):
                raise Fail
    except Fail:
        return False
    return True


def production(
    project: dict[str, Any],
    system: object,
    overview: object,
    report: dict[str, Any],
    settings: GateSettings,
) -> Verdict | ActionError:
    """The production path from the same bodies, as scan_gate takes it (minus the HTTP)."""
    try:
        parsed = parse_project(project)
        allowlist = None
        if parsed.reuse_system_allowlist and system != UNREADABLE:
            allowlist = parse_allowlist(system if isinstance(system, dict) else None, "system")
        scan = parse_overview(overview)
        reports = parse_reports(report) if scan and scan.status == "Success" else None
        return judge(parsed, allowlist, scan, False, reports, settings, NOW).verdict
    except ActionError as error:
        return error


# -- schemas from Harbor's spec ------------------------------------------------------------------


@cache
def _components() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return dict(spec["components"]["schemas"])


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: $refs inlined, `nullable` as a null type, annotations off."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(copy.deepcopy(_components()[node["$ref"].rsplit("/", 1)[-1]]))
    out = {
        k: _json_schema(v)
        for k, v in node.items()
        if k not in ("description", "example", "format", "nullable") and not k.startswith("x-")
    }
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def objects(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """Objects drawn from the named schema of Harbor's spec."""
    return from_schema(schema(name)).map(lambda drawn: cast(dict[str, Any], drawn))


def schema(name: str) -> dict[str, Any]:
    result = _json_schema({"$ref": f"#/components/schemas/{name}"})
    assert isinstance(result, dict)
    return result


# -- targeted strategies -------------------------------------------------------------------------

# Mostly ids that do match, so that allowlists and expiry decide often; then the variants
# Harbor must not match (case, spaces), mixed-case GHSA ids, and the empty id.
IDS = st.sampled_from(
    [
        *("CVE-2099-0001",) * 6,
        *("CVE-2099-0002",) * 3,
        *("cve-2099-0001", " CVE-2099-0001", "CVE-2099-0001 "),
        *("GHSA-8r8j-xvfj-36f9", "GHSA-8R8J-XVFJ-36F9", ""),
    ]
)
EXPIRY = st.one_of(
    st.none(),
    st.just(0),
    st.just(NOW_TS),  # Harbor: expired from this second on
    st.integers(-(2**40), -1),
    st.integers(NOW_TS - 2, NOW_TS + 2),  # just before, at and just after now
    st.integers(1, NOW_TS - 1),
    st.integers(NOW_TS + 1, 2**40),
)
SEVERITY_TEXT = st.one_of(
    st.sampled_from(["None", "Unknown", "Negligible", "Low", "Medium", "High", "Critical"]),
    st.sampled_from(["critical", "HIGH", "mEdIuM"]),
    st.sampled_from(["", "Severe", "High ", "Info"]),
    st.text(max_size=6),
)


@st.composite
def allowlists(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.integers(0, 9)) == 0:
        drawn: dict[str, Any] | None = draw(st.one_of(st.none(), objects("CVEAllowlist")))
        return drawn
    body: dict[str, Any] = {
        "items": draw(st.lists(st.builds(lambda i: {"cve_id": i}, IDS), min_size=1, max_size=3))
        if draw(st.integers(0, 5))
        else draw(st.sampled_from([None, []]))
    }
    if draw(st.integers(0, 2)):
        body["expires_at"] = draw(EXPIRY)
    return body


@st.composite
def projects(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 4)) == 0:
        project = draw(objects("Project"))
    else:
        project = {"project_id": 2, "name": "k1s0-system"}
    metadata: dict[str, Any] = {"auto_scan": "true"}
    reuse = draw(st.sampled_from([None, "absent", "true", "false", "True", "1", "0", "", "yes"]))
    if reuse != "absent":
        metadata["reuse_sys_cve_allowlist"] = reuse
    if draw(st.integers(0, 3)) > 0:
        project["metadata"] = metadata
    if draw(st.integers(0, 3)) > 0:
        project["cve_allowlist"] = draw(allowlists())
    return project


@st.composite
def findings(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {
        "package": draw(st.sampled_from(["musl", "zlib"])),
        "version": draw(st.sampled_from(["1.2.3-r4", "1.3"])),
        "fix_version": "",
        "severity": draw(SEVERITY_TEXT)
        if draw(st.integers(0, 5)) == 0
        else draw(st.sampled_from(["Critical", "High", "High", "Medium", "Low", "Negligible"])),
    }
    shape = draw(st.integers(0, 9))  # mostly an id; sometimes null or no key at all
    if shape:
        item["id"] = draw(IDS) if shape > 1 else None
    return item


def _overview_for(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The Success overview Harbor would compute for these findings (GetSeveritySummary)."""
    unique: dict[tuple[object, object, object], dict[str, Any]] = {}
    for item in items:
        unique.setdefault((item.get("id") or "", item["package"], item["version"]), item)
    counts: Counter[str] = Counter(str(i["severity"]) for i in unique.values())
    top = "None"
    for name in counts:
        if CODE.get(name.lower(), 99) > CODE.get(top.lower(), 99):
            top = name
    return {
        "scan_status": "Success",
        "severity": top,
        "summary": {"total": len(unique), "fixable": 0, "summary": dict(counts)},
    }


@st.composite
def scans(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(scan_overview, vulnerabilities addition) for one digest."""
    overview: dict[str, Any] = {}
    report: dict[str, Any] = {}
    mimes = draw(st.sampled_from([(V11,), (V11,), (V11,), (V10,), (V11, V10)]))
    for mime in mimes:
        shape = draw(st.integers(0, 19))  # mostly a well-formed report
        items = draw(st.lists(findings(), min_size=0 if shape == 19 else 1, max_size=4))
        if shape == 0:
            report[mime] = None
        elif shape == 1:
            report[mime] = {"vulnerabilities": None}
        elif shape == 2:
            report[mime] = draw(st.sampled_from([[], "oops", {"vulnerabilities": {}}]))
        elif shape != 3:  # 3: no report under this key at all
            report[mime] = {"severity": "x", "vulnerabilities": items}
        entry = _overview_for(items if shape > 3 else [])
        mutation = draw(st.integers(0, 12))  # often an overview that agrees
        if mutation == 1:
            entry["summary"] = None
        elif mutation == 2:
            del entry["summary"]["total"]
        elif mutation == 3:
            entry["summary"]["total"] = draw(st.one_of(st.integers(-1, 5), st.none()))
        elif mutation == 4:
            entry["severity"] = draw(st.one_of(SEVERITY_TEXT, st.none(), SEVERITY_TEXT))
        elif mutation == 5:
            entry["summary"]["summary"] = draw(
                st.dictionaries(SEVERITY_TEXT, st.integers(-1, 3), max_size=3)
            )
        elif mutation == 6:
            entry["scan_status"] = draw(
                st.sampled_from(["Pending", "Running", "Error", "Stopped", "", "success"])
            )
        elif mutation == 8:  # a recognised severity, perhaps not the report's highest
            entry["severity"] = draw(
                st.sampled_from(["None", "Low", "Medium", "High", "Critical", "Unknown"])
            )
        elif mutation == 7:
            entry = draw(objects("NativeReportSummary"))
            if draw(st.booleans()):
                entry["scan_status"] = "Success"
        overview[mime] = entry
    return overview, report


SETTINGS = st.builds(
    lambda block, ignore, on_error: GateSettings(600, block, ignore, on_error),
    st.one_of(
        st.just(("critical", "high")),
        st.lists(
            st.sampled_from(["critical", "high", "medium", "low", "negligible", "unknown"]),
            min_size=1,
            max_size=3,
            unique=True,
        ).map(tuple),
        st.just(()),
    ),
    st.one_of(st.just(()), st.frozensets(IDS, max_size=2).map(tuple)),
    st.sampled_from(["fail", "warn"]),
)
SYSTEMS = st.one_of(allowlists(), st.just(UNREADABLE))


def check(
    project: dict[str, Any],
    system: object,
    scan: tuple[dict[str, Any], dict[str, Any]],
    settings: GateSettings,
) -> None:
    """The property: passed exactly when the rule says so; otherwise blocked (or incomplete,
    with on-scan-error: warn, for a scan that did not succeed) or a clean ActionError."""
    overview, report = scan
    expected = reference_passes(
        project,
        system,
        overview,
        report,
        settings.block_severities,
        frozenset(settings.ignore_cves),
    )
    got = production(project, system, overview, report, settings)
    assert (got == Verdict.PASSED) is expected, (got, expected)
    if isinstance(got, Verdict) and got == Verdict.INCOMPLETE:
        assert settings.on_scan_error == "warn"
    assert isinstance(got, ActionError | Verdict)


# A fixed seed (derandomize) and a bounded count for the normal run.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("K1S0_GATE_EXAMPLES", "400")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
