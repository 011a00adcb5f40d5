"""Image names (rules N1, N2) as a table."""

from __future__ import annotations

import pytest

from k1s0_action.errors import InputError
from k1s0_action.naming import Layer, image_name, parse_layer

REGISTRY = "harbor.internal.example.com"


@pytest.mark.parametrize(
    ("layer", "service", "domain", "expected"),
    [
        (Layer.SYSTEM, "auth", "", f"{REGISTRY}/k1s0-system/auth"),
        (Layer.BUSINESS, "ledger", "accounting", f"{REGISTRY}/k1s0-business/accounting-ledger"),
        (Layer.SERVICE, "order-client", "", f"{REGISTRY}/k1s0-service/order-client"),
        (Layer.INFRA, "pgbouncer", "", f"{REGISTRY}/k1s0-infra/pgbouncer"),
        (Layer.SERVICE, "order", "ignored", f"{REGISTRY}/k1s0-service/order"),
        (Layer.SYSTEM, "a.b_c", "", f"{REGISTRY}/k1s0-system/a.b_c"),
    ],
)
def test_image_names(layer: Layer, service: str, domain: str, expected: str) -> None:
    assert image_name(REGISTRY, "k1s0", layer, service, domain) == expected


@pytest.mark.parametrize(
    ("registry", "prefix", "layer", "service", "domain", "bad_input"),
    [
        (REGISTRY, "k1s0", Layer.BUSINESS, "ledger", "", "domain"),
        (REGISTRY, "k1s0", Layer.SYSTEM, "Auth", "", "service"),
        (REGISTRY, "k1s0", Layer.SYSTEM, "my service", "", "service"),
        (REGISTRY, "k1s0", Layer.SYSTEM, "team/auth", "", "service"),
        (REGISTRY, "k1s0", Layer.SYSTEM, "-auth", "", "service"),
        (REGISTRY, "k1s0", Layer.SYSTEM, "auth-", "", "service"),
        (REGISTRY, "k1s0", Layer.SYSTEM, "", "", "service"),
        (REGISTRY, "k1s0", Layer.BUSINESS, "ledger", "Accounting", "domain"),
        (REGISTRY, "k1s0", Layer.BUSINESS, "ledger", "acc/ounting", "domain"),
        (REGISTRY, "K1S0", Layer.SYSTEM, "auth", "", "project-prefix"),
        ("https://harbor", "k1s0", Layer.SYSTEM, "auth", "", "registry"),
        ("harbor.example.com/path", "k1s0", Layer.SYSTEM, "auth", "", "registry"),
        (REGISTRY, "k1s0", Layer.SYSTEM, "a" * 250, "", "service"),
    ],
)
def test_bad_names_are_rejected_not_rewritten(
    registry: str, prefix: str, layer: Layer, service: str, domain: str, bad_input: str
) -> None:
    with pytest.raises(InputError) as raised:
        image_name(registry, prefix, layer, service, domain)
    assert raised.value.input_name == bad_input
    assert raised.value.diagnostics().startswith(f"input '{bad_input}'")


@pytest.mark.parametrize("value", ["system", "business", "service", "infra"])
def test_known_layers(value: str) -> None:
    assert parse_layer(value).value == value


@pytest.mark.parametrize("value", ["", "System", "platform", "infra "])
def test_unknown_layer_names_the_input_and_the_choices(value: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_layer(value)
    assert "system | business | service | infra" in raised.value.diagnostics()
    assert raised.value.input_name == "layer"
