"""Which Harbor LocalHarbor imitates where Harbor versions and scanners differ (test switches)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mimic:
    """The defaults are Harbor v2.15.2 with its Trivy adapter.

    - `finding_status`: findings carry `status` (Harbor >= 2.14, goharbor/harbor#22177); off for
      Harbor <= 2.13, whose findings have no such key.
    - `native_report_only`: reports and overviews are served only under the scanner's native MIME
      `application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0` (a scanner other
      than Trivy), never under Trivy's `...vulnerability.report; version=1.1`.
    - `null_empty_vulnerabilities`: a report without findings has `vulnerabilities: null` (as
      older reports are served) instead of `[]`.
    """

    finding_status: bool = True
    native_report_only: bool = False
    null_empty_vulnerabilities: bool = False
