"""The gate's property test (tests/action/unit/test_gate_properties.py) run long, randomly seeded.

Usage: PYTHONPATH=$PWD python bench/gate_properties.py [examples]   (default 20000; Harbor's spec
from $K1S0_HARBOR_SPEC, or beside the checkout). Prints how many drawn cases passed, blocked,
were left incomplete or ended in a clean error, and the time taken; a counterexample fails with
Hypothesis's report.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings

from k1s0_action.gate import GateSettings
from k1s0_action.scanreport import Verdict
from tests.action.unit.gate_properties import SETTINGS, SYSTEMS, check, production, projects, scans


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    seen: Counter[str] = Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(project=projects(), system=SYSTEMS, scan=scans(), gate_settings=SETTINGS)
    def run(
        project: dict[str, Any],
        system: object,
        scan: tuple[dict[str, Any], dict[str, Any]],
        gate_settings: GateSettings,
    ) -> None:
        check(project, system, scan, gate_settings)
        got = production(project, system, scan[0], scan[1], gate_settings)
        seen[str(got) if isinstance(got, Verdict) else "error"] += 1

    started = time.monotonic()
    run()
    took = time.monotonic() - started
    total = sum(seen.values())
    print(f"{total} cases in {took:.1f}s ({total / took:.0f}/s), no counterexample")
    for outcome, number in seen.most_common():
        print(f"  {outcome}: {number} ({100 * number / total:.1f}%)")


if __name__ == "__main__":
    main()
