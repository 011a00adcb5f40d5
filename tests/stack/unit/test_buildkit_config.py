"""The buildkitd.toml LocalBuildKit writes: what the e2e harness relies on (a loopback TCP
listener beside the socket, mirrors for the stand-in bases' public names, plain HTTP for loopback
registries) in the shape buildkitd reads (moby/buildkit's cmd/buildkitd/config)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from k1s0_stack.buildkit import LocalBuildKit


def test_socket_only_by_default(tmp_path: Path) -> None:
    daemon = LocalBuildKit(tmp_path, insecure_registries=("127.0.0.1:5000",))
    config = tomllib.loads(daemon.config())
    assert config["grpc"]["address"] == [f"unix://{tmp_path}/buildkitd.sock"]
    assert daemon.tcp_address == ""
    assert config["registry"] == {"127.0.0.1:5000": {"http": True}}


def test_tcp_listener_and_mirrors(tmp_path: Path) -> None:
    daemon = LocalBuildKit(
        tmp_path,
        insecure_registries=("127.0.0.1:5000",),
        tcp=True,
        mirrors={"docker.io": "127.0.0.1:6000", "k1s0.local": "127.0.0.1:6000"},
    )
    daemon.tcp_port = 7000  # start() picks a free port
    config = tomllib.loads(daemon.config())
    assert daemon.tcp_address == "tcp://127.0.0.1:7000"
    assert config["grpc"]["address"] == [f"unix://{tmp_path}/buildkitd.sock", daemon.tcp_address]
    assert config["registry"] == {
        "127.0.0.1:5000": {"http": True},
        "docker.io": {"mirrors": ["127.0.0.1:6000"]},
        "k1s0.local": {"mirrors": ["127.0.0.1:6000"]},
        "127.0.0.1:6000": {"http": True},
    }
