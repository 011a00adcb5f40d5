"""Every request recorded from a real Harbor v2.15.2 (../shared/harbor/captures-v2.15.2), replayed
against LocalHarbor in the order it was recorded, after putting LocalHarbor in the state the
capture shows (projects, robots and images made through the same API calls; scan states and tags
as the recorded answer implies). The answer must have the recorded status and the recorded body's
shape: the same keys, null where Harbor sends null, the same JSON types, the same error codes and
messages (ids, digests and times aside). What LocalHarbor deliberately does not serve is listed in
SKIPPED with the reason."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.harbor.contract import spec_path
from k1s0_stack.testimages import push_raw_image
from k1s0_stack.trivy import harbor_report

pytestmark = pytest.mark.integration

CAPTURES = Path(
    os.environ.get("K1S0_HARBOR_CAPTURES", str(spec_path().parent / "captures-v2.15.2"))
)
SKIPPED = {
    **dict.fromkeys(
        (
            "scanner_get.http",
            "scanner_get_missing_404.http",
            "scanner_metadata.http",
            "scanner_ping.http",
            "scanner_register_dup_url.http",
            "scanner_register_localhost.http",
            "scanner_register_reserved_name.http",
            "scanner_set_default.http",
            "scanners_list.http",
            "project_scanner_get.http",
            "project_scanner_after_default.http",
        ),
        "LocalHarbor has one built-in Trivy scanner: no scanner registration API (/scanners, "
        "/projects/{p}/scanner)",
    ),
    **dict.fromkeys(
        (
            "token_admin.http",
            "token_badpw_returns_200_anonymous.http",
            "token_ro_robot_push_scope.http",
        ),
        "/service/token: LocalHarbor's /v2/ takes Basic auth instead of Harbor's token service",
    ),
}
# Keys whose value is data, not shape (the image's own config, Trivy's vendor data).
OPAQUE = frozenset({"extra_attrs", "vendor_attributes", "annotations", "Labels", "config"})
DEMO_CLEAN = "sha256:d789b8bce87d6b4d42a19a3cdc58dcbe3a1aea94d32e4c31be453112aecf2109"
DEMO_VULN = "sha256:7dbc67661c0c769bffc59a1201da2bfb258202214669ca4a2d9ef28e81c35859"
CAPTURE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass
class Capture:
    name: str
    method: str
    path: str
    auth: str
    headers: dict[str, str]
    body: str | None
    notes: list[str]
    status: int
    response_headers: dict[str, str]
    response: str
    when: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.when = parsedate_to_datetime(self.response_headers.get("date", ""))

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.response)
        except ValueError:
            return None


def parse(path: Path) -> Capture:
    text = path.read_text()
    head, _, rest = text.partition("### RESPONSE HEADERS\n")
    raw_headers, _, response = rest.partition("### RESPONSE BODY\n")
    lines = head.splitlines()
    match = re.match(r"### REQUEST: (\w+) (\S+)\s+\((?:auth: )?(.*)\)$", lines[0])
    assert match, lines[0]
    method, target, auth = match.groups()
    headers: dict[str, str] = {}
    body = None
    notes = []
    for line in lines[1:]:
        if line.startswith("### arg: "):
            arg = line[len("### arg: ") :]
            name, colon, value = arg.partition(": ")
            if colon and re.fullmatch(r"[A-Za-z-]+", name):
                headers[name] = value
            else:
                body = arg
        elif line.startswith("### note: "):
            notes.append(line[len("### note: ") :])
    status_line, *header_lines = raw_headers.strip().splitlines()
    response_headers = {
        k.strip().lower(): v.strip()
        for k, _, v in (h.partition(":") for h in header_lines)
        if k.strip()
    }
    return Capture(
        path.name,
        method,
        target,
        auth,
        headers,
        body,
        notes,
        int(status_line.split()[1]),
        response_headers,
        response.strip(),
    )


def captures() -> list[Capture]:
    found = [parse(p) for p in sorted(CAPTURES.glob("*.http"))]
    return sorted(found, key=lambda c: c.when)  # stable: ties keep the file order


# -- the world -----------------------------------------------------------------------------------


def trivy_finding(cve: str, severity: str, cvss: bool, cwe: bool) -> dict[str, Any]:
    finding: dict[str, Any] = {
        "VulnerabilityID": cve,
        "PkgName": "musl",
        "InstalledVersion": "1.2.3-r4",
        "FixedVersion": "1.2.4-r0",
        "Severity": severity,
        "Status": "fixed",
        "Description": "Synthetic advisory.",
        "PrimaryURL": f"https://avd.aquasec.com/nvd/{cve.lower()}",
    }
    if cvss:
        finding["CVSS"] = {"nvd": {"V3Score": 9.8, "V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N"}}
    if cwe:
        finding["CweIDs"] = ["CWE-787"]
    return finding


VULNERABLE = {
    "Results": [
        {
            "Vulnerabilities": [
                trivy_finding("CVE-2099-0001", "CRITICAL", cvss=True, cwe=True),
                trivy_finding("CVE-2099-0002", "MEDIUM", cvss=False, cwe=False),
            ]
        }
    ]
}
CLEAN: dict[str, Any] = {"Results": []}


# The recorded artifacts: capture digest -> (repositories, tags, kind of report).
IMAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...], dict[str, Any]]] = {
    "sha256:ce5d7756370ceb5cb8a6d2ce998217fc55d970c52068d7403c2674ce6f1b96e2": (
        ("k1s0-system/app", "k1s0-system/tools/helper"),
        ("v1",),
        CLEAN,
    ),
    "sha256:220a2443e1a717b2382dc65120c4ab86d79ed63d2a9b93197b6f89ecb6ccffe6": (
        ("k1s0-system/app",),
        ("v2",),
        VULNERABLE,
    ),
    "sha256:d5ab2375b279dd64cefa4e072b3592474e592151159b4bafc762243dad3e82db": (
        ("k1s0-system/crane-made",),
        ("v1",),
        CLEAN,
    ),
    DEMO_CLEAN: (
        ("k1s0-system/demo-clean",),
        ("1.1.0-d00dfee", "1.1.0", "latest"),
        CLEAN,
    ),
    DEMO_VULN: (
        ("k1s0-system/demo-vuln",),
        ("1.0.2",),
        VULNERABLE,
    ),
    "sha256:3b72bd2a3269a8873ac47122d1685fb15ec672b5d997134e7a70c233ae62370e": (
        ("k1s0-noscan/app",),
        ("v1",),
        VULNERABLE,
    ),
}


class World:
    """LocalHarbor with the captures' projects, robots and images; capture ids mapped to ours."""

    def __init__(self, harbor: LocalHarbor) -> None:
        self.harbor = harbor
        self.secrets: dict[str, str] = {}
        self.digests: dict[str, str] = {}  # capture digest -> ours (its first repository)
        self.in_repository: dict[tuple[str, str], str] = {}  # (repository, theirs) -> ours
        self.ids: dict[str, str] = {}  # e.g. "robots/1" -> "robots/7"
        self.pushed: set[str] = set()

    def push(self, project: str) -> None:
        """Pushes the recorded images of `project` (scans on push end quickly, then reset)."""
        if project in self.pushed:
            return
        self.pushed.add(project)
        self.harbor.set_scan_behaviour(None, outcome="error")
        for theirs, (repositories, tags, _) in IMAGES.items():
            for repository in repositories:
                if not repository.startswith(project + "/"):
                    continue
                ours = push_raw_image(
                    self.harbor.url,
                    repository,
                    tags[0],
                    self.harbor.admin,
                    files={"i": theirs.encode()},
                )
                for tag in tags[1:]:
                    set_tag(self.harbor, repository, ours, tag, present=True)
                self.digests.setdefault(theirs, ours)
                self.in_repository[(repository, theirs)] = ours
        if project == "k1s0-system":
            signed = self.digests[DEMO_CLEAN]
            push_raw_image(
                self.harbor.url,
                "k1s0-system/demo-clean",
                f"sha256-{signed.split(':')[1]}.sig",
                self.harbor.admin,
                files={"sig": b"{}"},
                layer_media_type="application/vnd.dev.cosign.simplesigning.v1+json",
            )
        self.harbor.settle_scans()
        for theirs, (repositories, _, _) in IMAGES.items():
            for repository in repositories:
                if repository.startswith(project + "/"):
                    ours = self.in_repository[(repository, theirs)]
                    self.harbor.set_scan_state(repository, ours, None)

    def scan(self, repository: str, theirs: str, status: str | None, **extra: Any) -> None:
        ours = self.in_repository.get((repository, theirs))
        if ours is None:
            return
        report = None
        if status == "Success":
            kind = IMAGES[theirs][2]
            report = harbor_report(kind, ours)
        self.harbor.set_scan_state(repository, ours, status, report, **extra)

    def auth(self, capture: Capture) -> tuple[str, str] | None:
        who = capture.auth
        bearer = capture.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):  # replayed as Basic auth of the token's subject
            payload = bearer.split(".")[1]
            who = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
        elif who.startswith("bearer token for "):
            who = who[len("bearer token for ") :].split(",")[0]
        if who == "admin":
            password = self.harbor.admin[1]
            return ("admin", "wrong" if "badpw" in capture.name else password)
        if who.startswith("robot$"):
            secret = self.secrets.get(who, "")
            return (who, "not-the-secret" if "badsecret" in capture.name else secret)
        return None

    def translate(self, text: str) -> str:
        found = ARTIFACT_PATH.match(text)
        repository = repository_of(found) if found else ""
        for theirs, ours in self.digests.items():
            text = text.replace(theirs, self.in_repository.get((repository, theirs), ours))
        for theirs, ours in self.ids.items():
            text = re.sub(rf"(?<![\w]){re.escape(theirs)}(?![\w])", ours, text)
        return text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Unvalidated: Harbor itself serves paths its swagger does not list (…/metadatas without
    # the trailing slash); the shape comparison below is the check here.
    harbor = LocalHarbor(tmp_path_factory.mktemp("captured-harbor")).start()
    yield World(harbor)
    harbor.stop()


# -- state before each capture --------------------------------------------------------------------

ARTIFACT_PATH = re.compile(
    r"/api/v2\.0/projects/([^/]+)/repositories/([^/]+)/artifacts(?:/([^/?]+))?"
)


def repository_of(match: re.Match[str]) -> str:
    name = match.group(2).replace("%252F", "/").replace("%2F", "/")
    return f"{match.group(1)}/{name}"


def prepare(world: World, capture: Capture) -> None:
    harbor = world.harbor
    found = ARTIFACT_PATH.match(capture.path.split("?")[0])
    body = capture.json
    if capture.path.startswith(("/api/v2.0/projects/k1s0-system/", "/v2/k1s0-system/")):
        world.push("k1s0-system")
    if capture.path.startswith(("/api/v2.0/projects/k1s0-noscan/", "/v2/k1s0-noscan/")):
        world.push("k1s0-noscan")
    if capture.name == "project_get_allowlist_prevent_vul.http":
        update = {
            "metadata": {"prevent_vul": "true", "severity": "critical"},
            "cve_allowlist": {"items": [{"cve_id": "CVE-2099-0001"}]},
        }
        requests.put(
            f"{harbor.api}/projects/k1s0-system", json=update, auth=harbor.admin, timeout=10
        )
    scanner_down = capture.name == "scan_trigger_scanner_down_400.http"
    harbor.set_scan_behaviour(None, outcome="unreachable" if scanner_down else "error")
    if capture.name == "v2_manifest_pull_prevent_vul_412.http":
        world.scan("k1s0-system/demo-vuln", DEMO_VULN, "Success")
    if found is None:
        return
    repository = repository_of(found)
    reference = found.group(3)
    tail = capture.path.split("?")[0][found.end() :]
    # Scan states, as the recorded answer shows them.
    artifacts = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    for item in artifacts:
        if not isinstance(item, dict) or "digest" not in item or "addition_links" not in item:
            continue
        overview = next(iter((item.get("scan_overview") or {}).values()), None)
        if overview is not None:
            status = overview["scan_status"]
            world.scan(item["repository_name"], item["digest"], status)
        elif "vulnerabilities" not in item["addition_links"]:
            world.scan(item["repository_name"], item["digest"], None)
        else:  # a report row without a job: a scan the scanner refused
            world.scan(item["repository_name"], item["digest"], "Refused")
    if reference and tail == "/additions/vulnerabilities" and isinstance(body, dict):
        if body:
            world.scan(repository, reference, "Success")
        elif "error" in capture.name:
            world.scan(repository, reference, "Error")
        elif "inflight" in capture.name:
            world.scan(repository, reference, "Running")
        else:
            world.scan(repository, reference, None)
    if reference and tail == "/scan" and capture.status == 202:
        world.scan(repository, reference, None)
    if reference and tail == "/scan/stop":
        world.scan(repository, reference, "Running")
    log = re.fullmatch(r"/scan/([^/]+)/log", tail)
    if reference and log:
        status = "Error" if "error" in capture.name else "Success"
        world.scan(repository, reference, status, report_id=log.group(1), log=capture.response)
    # Tags: present before a delete that succeeds or an add that conflicts, absent otherwise.
    ours = world.in_repository.get((repository, reference or ""))
    tag = re.fullmatch(r"/tags/([^/]+)", tail)
    named = json.loads(capture.body or "{}").get("name") if tail == "/tags" else None
    wanted = tag.group(1) if tag else named
    if ours and wanted:
        present = capture.status == (409 if capture.method == "POST" else 200)
        set_tag(harbor, repository, ours, wanted, present)


def set_tag(harbor: LocalHarbor, repository: str, digest: str, tag: str, present: bool) -> None:
    project, _, name = repository.partition("/")
    base = (
        f"{harbor.api}/projects/{project}/repositories/{quote(quote(name, safe=''), safe='')}"
        f"/artifacts/{digest}/tags"
    )
    if present:
        requests.post(base, json={"name": tag}, auth=harbor.admin, timeout=10)
    else:
        requests.delete(f"{base}/{tag}", auth=harbor.admin, timeout=10)


def after(world: World, capture: Capture, answer: requests.Response) -> None:
    """Learns the ids LocalHarbor gave to what the capture created."""
    if capture.name.startswith("robot_create") and answer.status_code == 201:
        created = answer.json()
        world.secrets[created["name"]] = created["secret"]
        theirs = capture.json
        world.ids[f"robots/{theirs['id']}"] = f"robots/{created['id']}"
    if capture.name.startswith("project_create") and answer.status_code == 201:
        ours = answer.headers["Location"].rsplit("/", 1)[1]
        theirs = capture.response_headers["location"].rsplit("/", 1)[1]
        world.ids[f"ProjectID%3D{theirs}"] = f"ProjectID%3D{ours}"
        world.ids[f'"ref":{theirs}'] = f'"ref":{ours}'
    if capture.name == "retention_create.http" and answer.status_code == 201:
        ours = answer.headers["Location"].rsplit("/", 1)[1]
        world.ids["retentions/1"] = f"retentions/{ours}"
        world.ids['"id":1,"algorithm"'] = f'"id":{ours},"algorithm"'
    if capture.method == "POST" and capture.path.endswith("/scan"):
        world.harbor.settle_scans()


# -- the comparison ----------------------------------------------------------------------------


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape_differences(theirs: Any, ours: Any, where: str = "$") -> list[str]:
    if kind(theirs) != kind(ours):
        return [f"{where}: Harbor sends {kind(theirs)}, LocalHarbor {kind(ours)}"]
    if isinstance(theirs, dict):
        if where.rsplit(".", 1)[-1] in OPAQUE:
            return []
        missing = sorted(set(theirs) - set(ours))
        extra = sorted(set(ours) - set(theirs))
        found = [f"{where}: missing {missing}" for _ in [1] if missing]
        found += [f"{where}: extra {extra}" for _ in [1] if extra]
        for key in sorted(set(theirs) & set(ours)):
            found += shape_differences(theirs[key], ours[key], f"{where}.{key}")
        return found
    if isinstance(theirs, list) and theirs and ours:
        return shape_differences(theirs[0], ours[0], f"{where}[0]")
    return []


def list_differences(world: World, theirs: list[Any], ours: list[Any]) -> list[str]:
    """Artifacts are compared with the same artifact of ours (by digest), other lists by their
    first items."""
    if not (theirs and ours and isinstance(theirs[0], dict) and "digest" in theirs[0]):
        return shape_differences(theirs, ours)
    found = []
    for index, item in enumerate(theirs):
        mine = world.in_repository.get((item.get("repository_name", ""), item["digest"]))
        same = [o for o in ours if isinstance(o, dict) and o.get("digest") == mine]
        if same:
            found += shape_differences(item, same[0], f"$[{index}]")
    return found


def normalised(message: str) -> str:
    message = CAPTURE_DIGEST.sub("<digest>", message)
    return re.sub(r"\d+", "<n>", message)


def error_differences(theirs: Any, ours: Any) -> list[str]:
    if not (isinstance(theirs, dict) and "errors" in theirs and isinstance(ours, dict)):
        return []
    want = [(e.get("code"), normalised(str(e.get("message")))) for e in theirs["errors"]]
    got = [(e.get("code"), normalised(str(e.get("message")))) for e in ours.get("errors") or []]
    return [] if want == got else [f"errors: Harbor {want}, LocalHarbor {got}"]


def replay(world: World, capture: Capture) -> list[str]:
    harbor = world.harbor
    prepare(world, capture)
    headers = {
        k: v for k, v in capture.headers.items() if k.lower() not in ("authorization", "cookie")
    }
    if any("sid cookie" in note for note in capture.notes):
        headers["Cookie"] = "sid=0123456789abcdef0123456789abcdef"
    body = world.translate(capture.body) if capture.body else None
    answer = requests.request(
        capture.method,
        harbor.url + world.translate(capture.path),
        headers=headers,
        data=body.encode() if body else None,
        auth=world.auth(capture),
        timeout=30,
    )
    after(world, capture, answer)
    problems = []
    if answer.status_code != capture.status:
        problems.append(f"status: Harbor {capture.status}, LocalHarbor {answer.status_code}")
    if "sid=" not in answer.headers.get("Set-Cookie", ""):
        problems.append("no sid cookie set")
    theirs = capture.json
    if capture.method == "HEAD" or not capture.response:
        return problems
    if theirs is None:  # text (ping, scan logs)
        return problems + ([] if answer.text else ["empty text body"])
    try:
        ours = answer.json()
    except ValueError:
        return [*problems, f"body is not JSON: {answer.text[:80]!r}"]
    if isinstance(theirs, list) and isinstance(ours, list):
        return problems + list_differences(world, theirs, ours)
    return problems + shape_differences(theirs, ours) + error_differences(theirs, ours)


ALL = captures()


def test_the_captures_are_all_there() -> None:
    assert len(ALL) == len(list(CAPTURES.glob("*.http"))) >= 140
    assert set(SKIPPED) <= {c.name for c in ALL}


@pytest.mark.parametrize("capture", ALL, ids=[c.name for c in ALL])
def test_replayed_capture_matches(world: World, capture: Capture) -> None:
    if capture.name in SKIPPED:
        pytest.skip(SKIPPED[capture.name])
    problems = replay(world, capture)
    assert problems == [], f"{capture.method} {capture.path}"
