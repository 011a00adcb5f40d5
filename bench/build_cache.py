"""Benchmark: rebuilds of the real Rust template on a fresh builder, with the build cache in Harbor.

Run on purpose (not a test), with the Docker engine up and scripts/buildkit.sh done:

    . scripts/env.sh && PYTHONPATH=$PWD nice -n 15 python bench/build_cache.py [--runs 3] \
        [--backends buildkit,classic] [--crates ...]

What it builds: a copy of `examples/rust-server` compiled for real by cargo, with crates from
crates.io (the template itself is std-only, so the copy adds the crates of `--crates` to
Cargo.toml and locks them with the host's cargo), FROM local stand-ins of the public bases, which
cannot be pulled here: `rust:1.95-bookworm` = Debian bookworm (debootstrapped,
scripts/base-images.sh) + gcc + this machine's Rust toolchain, and `distroless/cc-debian12:nonroot`
= glibc, libgcc and a nonroot user on an empty image. Both are pushed to a LocalHarbor started for
the run, where the builds push too.

Per run and backend, each build on a FRESH builder with an empty local cache (a new buildkitd data
directory, or a new dockerd data root for the classic builder), timed from the build command to
the pushed image (cache export included; the builder's start is not counted):
  cold         - the cache repository is empty
  source       - src/main.rs changed; cache from the cold build
  no change    - the same sources again; cache from the `source` build
  deps         - (--dependency-change) a new direct dependency; cache from `no change`
BuildKit: `cache: harbor` as the action runs it (buildx, registry cache mode=max,
image-manifest=true, oci-mediatypes=true in <image>-cache:buildcache), once per cache format of
`--cache-compression`: gzip on an overlayfs builder (a builder of the user's), estargz on a
stargz builder (the action's own: cached layers mounted lazily, fetched in 4 MiB chunks), zstd
(measured only, overlayfs). Classic:
docker-py's `cache_from` - the build stage is built as its own target and pushed to
<image>-cache:build, the final image to <image>-cache:final, both pulled before the next build.
`--template react`: `examples/react-client` (npm ci from the npm registry, vite build) FROM
`node:22-bookworm` = bookworm + this machine's node and npm, and an `nginx:1.27-alpine` stand-in
(busybox with an nginx user; the image is built, never served); src/main.jsx changes.
RUN steps use the host network (crates.io, npm). Prints each time, then medians and ratios to cold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import docker

from k1s0_action import builder, engine
from k1s0_stack.buildkit import LocalBuildKit, overlay_works
from k1s0_stack.harbor import LocalHarbor

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = {"rust": ROOT / "examples" / "rust-server", "react": ROOT / "examples" / "react-client"}
PYTHON_BASE = "k1s0.local/python:3.11-bookworm"  # bookworm + this machine's CA bundle
RUST_STANDIN = "k1s0.local/rust:1.95-bookworm"
RUNTIME_STANDIN = "k1s0.local/distroless-cc:nonroot"
NODE_STANDIN = "k1s0.local/node:22-bookworm"  # bookworm + this machine's node and npm
NGINX_STANDIN = "k1s0.local/nginx:1.27-alpine"  # busybox + an nginx user: built, never served
STANDINS = {
    "rust": {
        "rust:1.82-bookworm": RUST_STANDIN,
        "gcr.io/distroless/cc-debian12:nonroot": RUNTIME_STANDIN,
    },
    "react": {"node:22-bookworm": NODE_STANDIN, "nginx:1.27-alpine": NGINX_STANDIN},
}
SOURCES = {"rust": "src/main.rs", "react": "src/main.jsx"}
PROJECT = "bench"
DEFAULT_CRATES = 'serde = { version = "1", features = ["derive"] }|serde_json = "1"|regex = "1"'
# `--crates web`: a web service's set (the README's first row).
CRATE_SETS = {
    "light": DEFAULT_CRATES,
    "web": 'tokio = { version = "1", features = ["full"] }|axum = "0.8"'
    '|serde = { version = "1", features = ["derive"] }|serde_json = "1"|tracing = "0.1"'
    '|tracing-subscriber = "0.3"',
}
Log = Callable[[str], None]


def quiet(_: str) -> None:
    pass


def toolchain() -> Path:
    found = subprocess.run(
        ["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(found)


def make_standins(client: docker.APIClient) -> None:
    """Builds the two stand-in bases into the engine once (kept by tag)."""
    have = {tag for image in client.images() for tag in image.get("RepoTags") or []}
    if RUST_STANDIN not in have:
        with tempfile.TemporaryDirectory(prefix="k1s0-bench-rust-") as scratch:
            context = Path(scratch)
            sysroot, rust = toolchain(), context / "rust"
            (rust / "bin").mkdir(parents=True)
            for name in ("cargo", "rustc"):
                shutil.copy2(sysroot / "bin" / name, rust / "bin" / name)
            shutil.copytree(
                sysroot / "lib",
                rust / "lib",
                symlinks=True,
                ignore=shutil.ignore_patterns("*.txt", "src", "etc", "components", "manifest-*"),
            )
            (context / "Dockerfile").write_text(
                f"FROM {PYTHON_BASE}\n"
                "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq"
                " --no-install-recommends gcc libc6-dev >/dev/null && rm -rf /var/lib/apt/lists/*\n"
                "COPY rust /usr/local/rust\n"
                "ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
                ":/sbin:/bin CARGO_HOME=/usr/local/cargo\n"
            )
            print(f"making {RUST_STANDIN} (once)")
            engine.build(
                client,
                engine.BuildRequest(
                    context, context / "Dockerfile", RUST_STANDIN, (), (), "", "linux/amd64", "host"
                ),
                quiet,
            )
    if RUNTIME_STANDIN not in have:
        with tempfile.TemporaryDirectory(prefix="k1s0-bench-rt-") as scratch:
            context = Path(scratch)
            (context / "passwd").write_text(
                "root:x:0:0:root:/root:/sbin/nologin\n"
                "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
            )
            (context / "group").write_text("root:x:0:\nnonroot:x:65532:\n")
            libs = "/lib/x86_64-linux-gnu"
            (context / "Dockerfile").write_text(
                f"FROM {PYTHON_BASE} AS libs\n"
                "FROM scratch\n"
                f"COPY --from=libs {libs}/libc.so.6 {libs}/libm.so.6 {libs}/libgcc_s.so.1 "
                f"{libs}/libpthread.so.0 {libs}/libdl.so.2 {libs}/\n"
                "COPY --from=libs /lib64/ld-linux-x86-64.so.2 /lib64/\n"
                "COPY --from=libs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/\n"
                "COPY passwd group /etc/\n"
            )
            print(f"making {RUNTIME_STANDIN} (once)")
            engine.build(
                client,
                engine.BuildRequest(
                    context, context / "Dockerfile", RUNTIME_STANDIN, (), (), "", "linux/amd64"
                ),
                quiet,
            )


def make_react_standins(client: docker.APIClient) -> None:
    have = {tag for image in client.images() for tag in image.get("RepoTags") or []}
    if NODE_STANDIN not in have:
        with tempfile.TemporaryDirectory(prefix="k1s0-bench-node-") as scratch:
            context = Path(scratch)
            shutil.copy2(shutil.which("node") or "/usr/bin/node", context / "node")
            npm = Path(os.path.realpath(shutil.which("npm") or "/usr/bin/npm")).parents[1]
            shutil.copytree(npm, context / "npm", symlinks=True)
            (context / "Dockerfile").write_text(
                f"FROM {PYTHON_BASE}\n"
                "COPY node /usr/local/bin/node\n"
                "COPY npm /usr/local/lib/node_modules/npm\n"
                "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm\n"
                "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n"
            )
            print(f"making {NODE_STANDIN} (once)")
            engine.build(
                client,
                engine.BuildRequest(
                    context, context / "Dockerfile", NODE_STANDIN, (), (), "", "linux/amd64"
                ),
                quiet,
            )
    if NGINX_STANDIN not in have:
        with tempfile.TemporaryDirectory(prefix="k1s0-bench-nginx-") as scratch:
            context = Path(scratch)
            (context / "passwd").write_text(
                "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/bin/false\n"
            )
            (context / "Dockerfile").write_text(
                "FROM k1s0.local/busybox:1.35\nCOPY passwd /etc/passwd\n"
            )
            print(f"making {NGINX_STANDIN} (once)")
            engine.build(
                client,
                engine.BuildRequest(
                    context, context / "Dockerfile", NGINX_STANDIN, (), (), "", "linux/amd64"
                ),
                quiet,
            )


def push_standins(client: docker.APIClient, harbor: LocalHarbor, template: str) -> dict[str, str]:
    """The template's public base -> its stand-in's reference in the run's Harbor."""
    creds = engine.Credentials(harbor.registry_host, *harbor.admin)
    refs = {}
    for public, local in STANDINS[template].items():
        name, tag = local.rsplit(":", 1)
        remote = f"{harbor.registry_host}/{PROJECT}/{name.split('/', 1)[1]}"
        client.tag(local, remote, tag)
        engine.push(client, remote, tag, creds, quiet)
        refs[public] = f"{remote}:{tag}"
    return refs


def make_app(
    root: Path, template: str, bases: dict[str, str], crates: list[str], lto: str = ""
) -> Path:
    app = root / "app"
    ignore = shutil.ignore_patterns("target", ".github", "node_modules", "dist")
    shutil.copytree(TEMPLATES[template], app, ignore=ignore)
    dockerfile = (app / "Dockerfile").read_text()
    for public, standin in bases.items():
        dockerfile = dockerfile.replace(f"FROM {public}", f"FROM {standin}")
    (app / "Dockerfile").write_text(dockerfile)
    if crates and template == "rust":
        manifest = (app / "Cargo.toml").read_text()
        manifest = manifest.replace(
            "[profile.release]", "[dependencies]\n" + "\n".join(crates) + "\n\n[profile.release]"
        )
        (app / "Cargo.toml").write_text(manifest)
        subprocess.run(["cargo", "generate-lockfile", "--quiet"], cwd=app, check=True)
    if lto and template == "rust":
        manifest = (app / "Cargo.toml").read_text()
        assert "lto = true" in manifest, "the template's release profile changed"
        value = lto if lto in ("true", "false") else f'"{lto}"'
        (app / "Cargo.toml").write_text(manifest.replace("lto = true", f"lto = {value}"))
    return app


def change_dependencies(app: Path) -> None:
    """A new direct dependency (already in the lock file as a transitive one, so nothing new is
    fetched): Cargo.toml changes, the dependency stage misses and cargo compiles it all again on
    a base the cache already has."""
    manifest = (app / "Cargo.toml").read_text()
    (app / "Cargo.toml").write_text(
        manifest.replace("[dependencies]\n", '[dependencies]\nitoa = "1"\n')
    )
    # Adds the new direct dependency to the lock, every locked version kept.
    subprocess.run(["cargo", "update", "--workspace", "--offline", "--quiet"], cwd=app, check=True)


def change_source(app: Path, template: str, run: int) -> None:
    main = app / SOURCES[template]
    main.write_text(main.read_text() + f"\n// bench source change {run} {uuid.uuid4().hex}\n")


@contextmanager
def fresh_buildkit(
    root: Path, harbor: LocalHarbor, tmpfs: bool, snapshotter: str = ""
) -> Iterator[LocalBuildKit]:
    """`tmpfs`: the data directory on a new tmpfs, which takes this machine's shared, busy disk
    out of the measurement (creating a file there can take half a millisecond)."""
    data = root / f"buildkit-{uuid.uuid4().hex[:8]}"
    if tmpfs:
        data.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8g", "tmpfs", str(data)], check=True)
    try:
        daemon = LocalBuildKit(
            data, insecure_registries=(harbor.registry_host,), snapshotter=snapshotter
        ).start()
        try:
            yield daemon
        finally:
            daemon.stop()
    finally:
        if tmpfs:
            subprocess.run(["umount", "--lazy", str(data)], check=False)
        shutil.rmtree(data, ignore_errors=True)


def buildkit_build(
    root: Path,
    harbor: LocalHarbor,
    app: Path,
    image: str,
    tag: str,
    compression: str,
    tmpfs: bool,
    log: Log,
) -> float:
    creds = engine.Credentials(harbor.registry_host, *harbor.admin)
    spec = builder.BuildSpec(
        context=app,
        dockerfile=app / "Dockerfile",
        image=image,
        tag=tag,
        build_args=(),
        labels=(("org.opencontainers.image.version", "1.4.0"),),
        target="",
        platforms=("linux/amd64",),
        cache_ref=builder.cache_ref(image),
        network="host",
        cache_compression=compression,
    )
    # Each cache format on the builder the action would use for it (builder.cache_format).
    snapshotter = builder.STARGZ_SNAPSHOTTER if compression == "estargz" else ""
    with fresh_buildkit(root, harbor, tmpfs, snapshotter) as daemon:
        env = {**os.environ, **daemon.env()}
        endpoint = builder.buildkit_endpoint(env)
        assert endpoint is not None
        backend = builder.BuildKitBuilder(endpoint, env)
        started = time.monotonic()
        try:
            result = backend.build(spec, creds, log)
        finally:
            backend.close()
        elapsed = time.monotonic() - started
    if result.cache_note:
        print(f"  note: {result.cache_note}")
    return elapsed


@contextmanager
def fresh_dockerd(root: Path) -> Iterator[docker.APIClient]:
    """A second Docker engine with its own empty data root, on overlay2 where overlay mounts
    (as on hosted runners and as BuildKit's overlayfs snapshotter), else vfs."""
    data = root / f"dockerd-{uuid.uuid4().hex[:8]}"
    data.mkdir()
    sock = data / "docker.sock"
    log = (data / "dockerd.log").open("wb")
    process = subprocess.Popen(
        [
            "dockerd",
            f"--storage-driver={'overlay2' if overlay_works(root) else 'vfs'}",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            f"--data-root={data / 'root'}",
            f"--exec-root={data / 'exec'}",
            f"--pidfile={data / 'dockerd.pid'}",
            f"--host=unix://{sock}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = docker.APIClient(base_url=f"unix://{sock}", version="auto", timeout=900)
                client.ping()
                break
            except Exception as exc:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        f"dockerd did not start: see {data / 'dockerd.log'}"
                    ) from exc
                time.sleep(0.3)
        yield client
    finally:
        process.terminate()
        process.wait(60)
        log.close()
        # dockerd leaves its network namespace mounted under the exec root.
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        for target in sorted((line.split()[1] for line in mounts), reverse=True):
            if target.startswith(f"{data}/"):
                subprocess.run(["umount", target], check=False, capture_output=True)
        subprocess.run(["rm", "-rf", str(data)], check=False)


def classic_build(
    root: Path, harbor: LocalHarbor, app: Path, image: str, tag: str, warm: bool, log: Log
) -> float:
    creds = engine.Credentials(harbor.registry_host, *harbor.admin)
    cache = f"{image}{builder.CACHE_SUFFIX}"
    with fresh_dockerd(root) as client:
        client.login(creds.username, creds.password, registry=creds.registry, reauth=True)
        started = time.monotonic()
        cache_from = []
        if warm:
            for stage in ("build", "final"):
                client.pull(cache, tag=stage, auth_config=creds.auth_config())
                cache_from.append(f"{cache}:{stage}")

        def build(target: str, ref: str) -> None:
            stream = client.build(
                path=str(app),
                tag=ref,
                target=target or None,
                cache_from=cache_from or None,
                network_mode="host",
                labels={"org.opencontainers.image.version": "1.4.0"},
                rm=True,
                forcerm=True,
                decode=True,
            )
            for chunk in stream:
                if "error" in chunk:
                    raise RuntimeError(str(chunk["error"]))
                text = chunk.get("stream")
                if isinstance(text, str) and text.strip():
                    log(text.rstrip())

        build("build", f"{cache}:build")
        build("", f"{image}:{tag}")
        client.tag(f"{image}:{tag}", cache, "final")
        for repository, pushed in ((image, tag), (cache, "build"), (cache, "final")):
            engine.push(client, repository, pushed, creds, quiet)
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--backends", default="buildkit", help="comma-separated: buildkit, classic (cache_from)"
    )
    parser.add_argument(
        "--crates",
        default=DEFAULT_CRATES,
        help="'|'-separated Cargo.toml lines, or a named set: " + ", ".join(CRATE_SETS),
    )
    parser.add_argument(
        "--cache-compression",
        default="gzip,estargz",
        help="comma-separated: gzip (overlayfs builder), estargz (stargz builder), zstd; "
        "BuildKit only",
    )
    parser.add_argument(
        "--tmpfs",
        action="store_true",
        help="each buildkitd data directory on a new tmpfs instead of the disk (BuildKit only)",
    )
    parser.add_argument(
        "--lto",
        default="",
        help="the copy's release-profile lto instead of the template's (true): thin, false",
    )
    parser.add_argument(
        "--dependency-change",
        action="store_true",
        help="a fourth build per run after a new dependency (rust; cache from `no change`)",
    )
    parser.add_argument("--template", choices=sorted(TEMPLATES), default="rust")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    chosen = CRATE_SETS.get(args.crates, args.crates)
    crates = [line for line in chosen.split("|") if line.strip()]
    log: Log = print if args.verbose else quiet
    client = docker.APIClient(version="auto", timeout=900)
    if args.template == "rust":
        make_standins(client)
    else:
        make_react_standins(client)
    with tempfile.TemporaryDirectory(prefix="k1s0-bench-cache-") as scratch:
        root = Path(scratch)
        with LocalHarbor(root / "harbor") as harbor:
            harbor.create_project(PROJECT, auto_scan=False)
            bases = push_standins(client, harbor, args.template)
            if args.template == "rust":
                print(f"crates: {', '.join(c.split(' ')[0] for c in crates) or 'none'}")
            print(
                f"overlay mounts here: {overlay_works(root)} "
                "(picks buildkitd's snapshotter and dockerd's storage driver)"
            )
            compressions = [c.strip() for c in args.cache_compression.split(",") if c.strip()]
            backends = [
                f"{name}-{compression}" if name == "buildkit" else name
                for name in (name.strip() for name in args.backends.split(",") if name.strip())
                for compression in (compressions if name == "buildkit" else [""])
            ]
            phases = ["cold", "source", "no change"]
            if args.dependency_change and args.template == "rust":
                phases.append("deps")
            times: dict[str, dict[str, list[float]]] = {
                b: {phase: [] for phase in phases} for b in backends
            }
            for run in range(1, args.runs + 1):
                for backend in backends:
                    app = make_app(
                        root / f"{backend}-{run}", args.template, bases, crates, args.lto
                    )
                    image = f"{harbor.registry_host}/{PROJECT}/{args.template}-{backend}-{run}"
                    for phase in phases:
                        if phase == "source":
                            change_source(app, args.template, run)
                        if phase == "deps":
                            change_dependencies(app)
                        if backend.startswith("buildkit-"):
                            compression = backend.split("-", 1)[1]
                            elapsed = buildkit_build(
                                root, harbor, app, image, f"r{run}", compression, args.tmpfs, log
                            )
                        else:
                            warm = phase != "cold"
                            elapsed = classic_build(root, harbor, app, image, f"r{run}", warm, log)
                        times[backend][phase].append(elapsed)
                        print(f"run {run} {backend:13} {phase:9} {elapsed:7.1f}s", flush=True)
                    shutil.rmtree(app.parent, ignore_errors=True)
            print()
            deps_header = " dependency changed |" if "deps" in phases else ""
            print(
                "| builder | cold | source changed | no change |"
                + deps_header
                + " source/cold | no change/cold |"
            )
            print("|---|---:|---:|---:|---:|---:|" + ("---:|" if deps_header else ""))
            for backend in backends:
                median = {p: statistics.median(times[backend][p]) for p in phases}
                cold, source, same = median["cold"], median["source"], median["no change"]
                deps = f" {median['deps']:.1f} s |" if "deps" in median else ""
                print(
                    f"| {backend} | {cold:.1f} s | {source:.1f} s | {same:.1f} s |{deps}"
                    f" {source / cold:.0%} | {same / cold:.0%} |"
                )
            print(f"(medians of {args.runs} runs; each build on a fresh builder)")


if __name__ == "__main__":
    main()
