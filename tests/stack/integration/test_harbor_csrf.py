"""Harbor's session cookie and CSRF rule in LocalHarbor (src/server/middleware/csrf/csrf.go,
csrfSkipper; captured in tag_add_with_session_cookie_csrf_403.http), and the action's Harbor
client, which must keep no cookies and must name a CSRF refusal as such."""

from __future__ import annotations

import pytest
import requests

from k1s0_action.errors import HarborError
from k1s0_action.harbor import HarborClient, HarborPermissionError
from k1s0_action.retry import Backoff
from k1s0_stack.harbor import LocalHarbor, Robot
from k1s0_stack.testimages import push_raw_image

pytestmark = pytest.mark.integration

CSRF_403 = {"errors": [{"code": "FORBIDDEN", "message": "CSRF token not found in request"}]}


@pytest.fixture
def pushed(harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot) -> str:
    return push_raw_image(
        harbor.url, f"{harbor_project}/app", "1.0.0", (harbor_robot.name, harbor_robot.secret)
    )


def tags_url(harbor: LocalHarbor, project: str, digest: str) -> str:
    return f"{harbor.api}/projects/{project}/repositories/app/artifacts/{digest}/tags"


def test_every_answer_sets_the_session_cookie(harbor: LocalHarbor, harbor_robot: Robot) -> None:
    for url in (f"{harbor.api}/systeminfo", f"{harbor.url}/v2/", f"{harbor.api}/projects/nope"):
        answer = requests.get(url, timeout=10)
        assert answer.cookies.get("sid"), url
        assert "HttpOnly" in answer.headers["Set-Cookie"]


def test_a_cookie_keeping_client_is_refused_by_the_csrf_check(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, pushed: str
) -> None:
    keeping = requests.Session()
    keeping.auth = (harbor_robot.name, harbor_robot.secret)
    seen = keeping.get(tags_url(harbor, harbor_project, pushed))
    assert seen.status_code == 200 and "sid" in keeping.cookies
    refused = keeping.post(tags_url(harbor, harbor_project, pushed), json={"name": "csrf"})
    assert refused.status_code == 403
    assert refused.json() == CSRF_403
    assert refused.headers["X-Harbor-Csrf-Token"]
    # Refused before authentication, as in Harbor: a wrong secret changes nothing.
    keeping.auth = (harbor_robot.name, "wrong")
    assert keeping.delete(f"{tags_url(harbor, harbor_project, pushed)}/x").status_code == 403
    # A wrong token is "invalid"; the token the server handed out (with its cookie) passes.
    keeping.auth = (harbor_robot.name, harbor_robot.secret)
    bad = keeping.post(
        tags_url(harbor, harbor_project, pushed),
        json={"name": "csrf"},
        headers={"X-Harbor-CSRF-Token": "A" * 86 + "=="},  # 64 bytes, not the pad+token
    )
    assert bad.json()["errors"][0]["message"] == "CSRF token invalid"
    token = keeping.get(f"{harbor.api}/systeminfo").headers["X-Harbor-Csrf-Token"]
    ok = keeping.post(
        tags_url(harbor, harbor_project, pushed),
        json={"name": "csrf"},
        headers={"X-Harbor-CSRF-Token": token},
    )
    assert ok.status_code == 201


def test_without_the_cookie_the_check_is_skipped(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, pushed: str
) -> None:
    answer = requests.post(
        tags_url(harbor, harbor_project, pushed),
        json={"name": "no-cookie"},
        auth=(harbor_robot.name, harbor_robot.secret),
        timeout=10,
    )
    assert answer.status_code == 201


def client(harbor: LocalHarbor, robot: Robot, session: requests.Session) -> HarborClient:
    return HarborClient(
        harbor.url,
        robot.name,
        robot.secret,
        backoff=Backoff(attempts=2, initial=0.1, maximum=0.1),
        session=session,
        sleep=lambda _: None,
    )


def test_the_action_client_sends_no_cookie_back(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, pushed: str
) -> None:
    sent: list[requests.PreparedRequest] = []
    session = requests.Session()
    session.hooks["response"].append(lambda r, *_, **__: sent.append(r.request))
    harbor_client = client(harbor, harbor_robot, session)
    harbor_client.get_artifact(harbor_project, "app", pushed)  # answered with Set-Cookie: sid
    assert sent[-1] is not None
    harbor_client.create_tag(harbor_project, "app", pushed, "1.0")
    harbor_client.delete_tag(harbor_project, "app", pushed, "1.0")
    assert len(sent) == 3
    assert all("Cookie" not in request.headers for request in sent)
    assert len(session.cookies) == 0


def test_a_csrf_refusal_is_not_reported_as_a_missing_permission(
    harbor: LocalHarbor, harbor_project: str, harbor_robot: Robot, pushed: str
) -> None:
    session = requests.Session()
    session.headers["Cookie"] = "sid=0123456789abcdef"  # e.g. added by a proxy in between
    with pytest.raises(HarborError) as raised:
        client(harbor, harbor_robot, session).create_tag(harbor_project, "app", pushed, "2.0")
    assert not isinstance(raised.value, HarborPermissionError)
    line = raised.value.diagnostics()
    assert "CSRF" in line and "cookie" in line and "lacks the permission" not in line
