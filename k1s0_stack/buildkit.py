"""A real BuildKit daemon for the tests and the benchmarks, and what the action needs to use it.

`LocalBuildKit` runs `buildkitd` (built by scripts/buildkit.sh) as root with the OCI worker and
Debian's runc, on the overlayfs snapshotter where this machine can mount overlay (as hosted
runners do), else on the native one (a full copy per layer, much slower), or on the one asked
for (`snapshotter="stargz"`, the action's own builder: eStargz layers mounted lazily over FUSE,
the mounts detached again on `stop`), with its state in `data_dir`: a fresh data dir is a fresh
builder with an empty local cache, which is what a hosted runner starts with. Base images come
from a registry (buildkitd does not see the Docker engine's images); loopback registries are
listed as plain-HTTP hosts in buildkitd.toml.

`env()` gives the variables that make the action use this daemon: K1S0_BUILDX (the buildx binary)
and K1S0_BUILDKIT_HOST (buildx's `remote` driver). With `tcp=True` it also listens on a loopback
TCP port (`tcp_address`), which the action reaches from its container under act (host network);
`mirrors` sends pulls from a registry host (docker.io, k1s0.local) to a local registry, so the
`FROM`s of the engine's local stand-ins resolve for a daemon that cannot see the engine's images.

`enable_emulation()` registers Debian's qemu-user-static with binfmt_misc (flag F, so the
interpreter is found inside build containers) for RUN steps of another architecture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docker

from k1s0_action.builder import STARGZ_FETCH_CONFIG, STARGZ_SNAPSHOTTER
from k1s0_stack.process import CACHE, Service, free_port

BIN = CACHE / "buildkit" / "bin"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU = {"linux/arm64": "aarch64", "linux/amd64": "x86_64"}


def binary(name: str) -> str:
    path = BIN / name
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{path} is missing: run scripts/buildkit.sh")
    return str(path)


def unmount_under(directory: Path) -> None:
    """Detaches what a stopped buildkitd left mounted under its data directory: the stargz
    snapshotter's FUSE mounts outlive it, and their dead endpoints block removing the directory."""
    prefix = str(directory.resolve()) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def available() -> bool:
    return all(os.access(BIN / name, os.X_OK) for name in ("buildkitd", "buildctl", "buildx"))


@dataclass
class LocalBuildKit:
    data_dir: Path
    insecure_registries: Iterable[str] = ()
    snapshotter: str = ""  # "" = overlayfs if it can be mounted here, else native
    tcp: bool = False  # also listen on tcp://127.0.0.1:<free port>, without TLS
    mirrors: Mapping[str, str] = field(default_factory=dict)  # registry host -> mirror host
    tcp_port: int = field(default=0, init=False)
    service: Service | None = field(default=None, init=False)

    @property
    def socket(self) -> Path:
        return self.data_dir / "buildkitd.sock"

    @property
    def address(self) -> str:
        return f"unix://{self.socket}"

    @property
    def tcp_address(self) -> str:
        return f"tcp://127.0.0.1:{self.tcp_port}" if self.tcp_port else ""

    def config(self) -> str:
        addresses = ", ".join(f'"{a}"' for a in (self.address, self.tcp_address) if a)
        lines = [
            f'root = "{self.data_dir / "root"}"',
            "[grpc]",
            f"  address = [{addresses}]",
            "[worker.oci]",
            "  enabled = true",
            f'  snapshotter = "{self.snapshotter}"',
            "  gc = false",
            "[worker.containerd]",
            "  enabled = false",
        ]
        if self.snapshotter == STARGZ_SNAPSHOTTER:
            # The fetch settings the action gives its own builder (k1s0_action.builder).
            lines += STARGZ_FETCH_CONFIG.splitlines()
        for host in self.insecure_registries:
            # Plain HTTP only: with `insecure` too, BuildKit tries TLS first and its fallback to
            # HTTP does not work against LocalHarbor's server.
            lines += [f'[registry."{host}"]', "  http = true"]
        for host, mirror in self.mirrors.items():
            lines += [f'[registry."{host}"]', f'  mirrors = ["{mirror}"]']
        for mirror in sorted(set(self.mirrors.values()) - set(self.insecure_registries)):
            lines += [f'[registry."{mirror}"]', "  http = true"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 60.0) -> LocalBuildKit:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.tcp and not self.tcp_port:
            self.tcp_port = free_port()
        self.snapshotter = self.snapshotter or (
            "overlayfs" if overlay_works(self.data_dir) else "native"
        )
        config = self.data_dir / "buildkitd.toml"
        config.write_text(self.config())
        self.service = Service(
            "buildkitd",
            [
                binary("buildkitd"),
                "--config",
                str(config),
                # bench/ fetches crates in RUN steps with the host's network.
                "--allow-insecure-entitlement",
                "network.host",
            ],
            self.data_dir / "buildkitd.log",
        ).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.service.check_alive()
            probe = subprocess.run(
                [binary("buildctl"), "--addr", self.address, "debug", "workers"],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return self
            time.sleep(0.2)
        raise TimeoutError(f"buildkitd did not answer on {self.address} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.service:
            self.service.stop(timeout=30)
        unmount_under(self.data_dir)

    def __enter__(self) -> LocalBuildKit:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        return {"K1S0_BUILDX": binary("buildx"), "K1S0_BUILDKIT_HOST": self.address}


def overlay_works(directory: Path) -> bool:
    """Whether overlay can be mounted on `directory`'s file system (not inside some sandboxes,
    nor on an overlay root)."""
    probe = directory / ".overlay-probe"
    dirs = {name: probe / name for name in ("lower", "upper", "work", "merged")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']}"
    mounted = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(dirs["merged"])],
        capture_output=True,
        check=False,
    )
    if mounted.returncode == 0:
        subprocess.run(["umount", str(dirs["merged"])], capture_output=True, check=False)
    shutil.rmtree(probe, ignore_errors=True)
    return mounted.returncode == 0


def emulation_ready(platform: str) -> bool:
    arch = QEMU.get(platform)
    if arch is None:
        return False
    if os.uname().machine == arch:
        return True
    entry = BINFMT / f"qemu-{arch}"
    return entry.exists() and entry.read_text().splitlines()[0] == "enabled"


def enable_emulation(platform: str) -> bool:
    """Registers qemu-user-static for `platform` unless the kernel already runs its binaries;
    False when this machine cannot (no binfmt_misc, no permission, qemu not installed)."""
    if emulation_ready(platform):
        return True
    arch = QEMU.get(platform, "")
    conf = Path(f"/usr/lib/binfmt.d/qemu-{arch}.conf")
    if not arch or not conf.exists():
        return False
    try:
        if not (BINFMT / "register").exists():
            subprocess.run(
                ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
                check=True,
                capture_output=True,
            )
        line = next(
            text for text in conf.read_text().splitlines() if text and not text.startswith("#")
        )
        name, rest = line[1:].split(line[0], 1)
        fields = rest.split(line[0])
        # Flag F: the kernel opens the interpreter now, so it works inside build containers too.
        fields[-1] = "".join(sorted(set(fields[-1]) | {"F"}))
        (BINFMT / "register").write_text(line[0] + name + line[0] + line[0].join(fields))
    except (OSError, subprocess.CalledProcessError, StopIteration, ValueError):
        return False
    return emulation_ready(platform)


def mirror_images(api: docker.APIClient, mirror: str, images: Iterable[tuple[str, str]]) -> None:
    """Pushes engine images (local stand-ins) to the registry `mirror` as `<mirror>/<path>`, for
    a buildkitd whose `mirrors` send the public name there; the mirror's local tags then go."""
    for local, path in images:
        repository, _, tag = f"{mirror}/{path}".rpartition(":")
        api.tag(local, repository, tag, force=True)
        try:
            for chunk in api.push(repository, tag, stream=True, decode=True):
                if "error" in chunk or "errorDetail" in chunk:
                    raise RuntimeError(f"pushing {local} to {mirror} failed: {chunk}")
        finally:
            api.remove_image(f"{repository}:{tag}")
