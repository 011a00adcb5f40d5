"""Property: for any project, allowlists, overview and report drawn from Harbor's schemas and the
targeted strategies in gate_properties.py, the gate passes exactly when the README's rule (an
independent reference implementation) says so, and otherwise blocks or ends in the action's own
error type. Fixed seed and a bounded count here; `bench/gate_properties.py` runs it longer."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from k1s0_action.gate import GateSettings
from tests.action.unit.gate_properties import (
    PROPERTY_SETTINGS,
    SETTINGS,
    SYSTEMS,
    check,
    projects,
    scans,
)


@settings(PROPERTY_SETTINGS)
@given(project=projects(), system=SYSTEMS, scan=scans(), gate_settings=SETTINGS)
def test_the_gate_passes_exactly_when_the_rule_says_so(
    project: dict[str, Any],
    system: object,
    scan: tuple[dict[str, Any], dict[str, Any]],
    gate_settings: GateSettings,
) -> None:
    check(project, system, scan, gate_settings)
