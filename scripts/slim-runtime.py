#!/usr/bin/env python3
"""Assembles the action image's runtime file system (run in the Dockerfile's build stage).

The last stage is `FROM scratch` plus this tree: the Python interpreter of the build stage's base
and the shared libraries it and the extension modules load (found with ldd), the standard library
without the parts the action never needs (ensurepip with its pip and setuptools wheels, idle,
tkinter, turtle, lib2to3, pydoc data, tests), no pip or setuptools, the action's dependencies and
code, cosign and buildx, a CA bundle, and the Debian package records of the copied libraries (so
Trivy in Harbor still sees glibc, OpenSSL, ... and the scan gate stays meaningful).

Byte code: only the modules the action imports (every module of the k1s0_action package, with
what they import) are compiled, as unchecked-hash .pyc (the image is immutable, so the source is
never stat-ed); everything else is kept as source only.

It works on the pinned python:3.11-slim-bookworm (/usr/local) and on Debian's own python3
(/usr), so the same Dockerfile builds on GitHub and from the local stand-in base.

Usage: slim-runtime.py OPT_DIR DEST  (OPT_DIR holds app/, site/ and bin/; DEST becomes the root)
"""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

# Standard-library parts no action code path uses; large ones first.
STDLIB_DROP = {
    "ensurepip", "idlelib", "tkinter", "turtledemo", "turtle.py", "lib2to3", "pydoc_data",
    "test", "tests", "idle_test", "site-packages", "dist-packages", "config-3.11-x86_64-linux-gnu",
    "config-3.11-aarch64-linux-gnu", "__pycache__", "venv", "distutils",
}  # fmt: skip
# Extension modules whose libraries (ncurses, readline, sqlite, Berkeley DB, ...) the action
# never loads.
DYNLOAD_DROP = re.compile(r"^_?(curses|curses_panel|readline|sqlite3|dbm|gdbm|nis|tkinter|test)")
# Imports every module of the action and every module its code names, also inside functions.
IMPORT_ALL = """
import ast, contextlib, importlib, json, pathlib, pkgutil, sys
import k1s0_action
names = set()
for info in pkgutil.walk_packages(k1s0_action.__path__, "k1s0_action."):
    if info.name.endswith(".__main__"):  # importing it would run the command line
        continue
    module = importlib.import_module(info.name)
    for node in ast.walk(ast.parse(pathlib.Path(module.__file__).read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
for name in sorted(names):
    with contextlib.suppress(Exception):
        importlib.import_module(name)
files = {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}
print(json.dumps(sorted(f for f in files if f.endswith(".py"))))
"""
USERS = "root:x:0:0:root:/root:/usr/sbin/nologin\n"
GROUP = "root:x:0:\n"


def replicate(path: str, dest: Path) -> None:
    """Copies `path` into `dest` at the same place, recreating every symlink on the way (merged
    /usr, /lib64/ld-linux-*.so.2, python3 -> python3.11) so the loader finds what it looks for."""
    parts = Path(path).parts
    current = Path("/")
    for index, part in enumerate(parts[1:], start=1):
        current = current / part
        target = dest / current.relative_to("/")
        if current.is_symlink():
            link = os.readlink(current)
            if not target.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(link)
            pointed = os.path.normpath(os.path.join(current.parent, link))
            rest = parts[index + 1 :]
            replicate(os.path.join(pointed, *rest) if rest else pointed, dest)
            return
        if index == len(parts) - 1 and current.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(current, target)


def shared_libraries(files: list[Path]) -> set[str]:
    """What ldd says `files` load, including the dynamic loader itself."""
    found: set[str] = set()
    for path in files:
        done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
        for line in done.stdout.splitlines():
            match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
            if match:
                found.add(match.group(1))
    return found


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def imported_files(opt: Path) -> list[str]:
    env = {
        "PYTHONPATH": f"{opt}/app:{opt}/site",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PATH": os.environ.get("PATH", ""),
    }
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"importing the action failed:\n{done.stderr}")
    files: list[str] = json.loads(done.stdout)
    return files


def compile_into(source: str, dest: Path) -> None:
    """Compiles `source` into DEST's copy of it (which must exist), keeping the original path in
    tracebacks."""
    copy = dest / Path(source).relative_to("/")
    if not copy.exists():
        return
    py_compile.compile(
        str(copy),
        cfile=importlib.util.cache_from_source(str(copy)),
        dfile=source,
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )


def dpkg_records(paths: set[str], dest: Path) -> None:
    """Writes distroless-style /var/lib/dpkg/status.d/<package> records for the Debian packages
    that own the copied files, plus os-release, so a scanner knows what is in the image."""
    if shutil.which("dpkg-query") is None:
        return
    packages: set[str] = set()
    for path in sorted(paths):
        for candidate in {path, os.path.realpath(path)}:
            done = subprocess.run(
                ["dpkg-query", "-S", candidate], capture_output=True, text=True, check=False
            )
            if done.returncode == 0:
                for line in done.stdout.splitlines():
                    names = line.split(": ", 1)[0]
                    packages.update(n.strip().split(":")[0] for n in names.split(","))
                break
    status = dest / "var/lib/dpkg/status.d"
    status.mkdir(parents=True, exist_ok=True)
    for package in sorted(packages):
        done = subprocess.run(
            ["dpkg-query", "-s", package], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            (status / package).write_text(done.stdout)
    # Trivy tells Debian by debian_version (as in distroless), then reads status.d.
    for release in ("/etc/os-release", "/usr/lib/os-release", "/etc/debian_version"):
        if os.path.exists(release):
            replicate(release, dest)


def main(opt_dir: str, dest_dir: str) -> int:
    opt, dest = Path(opt_dir), Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    executable = os.path.realpath(sys.executable)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    dynload = Path(sysconfig.get_paths()["platstdlib"]) / "lib-dynload"

    # The interpreter, reachable as /opt/k1s0/bin/python3 for the ENTRYPOINT.
    replicate(sys.executable, dest)
    bin_dir = dest / opt.relative_to("/") / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "python3").symlink_to(executable)

    # The standard library, sources only; lib-dynload without the modules nobody loads.
    def ignore(directory: str, names: list[str]) -> set[str]:
        dropped = {n for n in names if n in STDLIB_DROP or n.endswith((".pyc", ".exe"))}
        if Path(directory) == dynload:
            dropped |= {n for n in names if DYNLOAD_DROP.match(n)}
        return dropped

    shutil.copytree(
        stdlib,
        dest / stdlib.relative_to("/"),
        ignore=ignore,
        symlinks=False,
        ignore_dangling_symlinks=True,
    )
    if not dynload.is_relative_to(stdlib):
        shutil.copytree(dynload, dest / dynload.relative_to("/"), ignore=ignore)

    # The action: code, dependencies (with the programs wheels install in site/bin) and cosign.
    shutil.copytree(opt, dest / opt.relative_to("/"), dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip

    # Every shared library the interpreter and the copied extension modules load.
    elves = [Path(executable)] + [  # extension modules, and cosign when it is not static
        p for p in dest.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)
    ]
    # Libraries a wheel bundles (PyYAML.libs, ...) are already in the tree.
    libraries = {p for p in shared_libraries(elves) if not Path(p).is_relative_to(dest)}
    for library in sorted(libraries):
        replicate(library, dest)
    # The official image keeps libpython in /usr/local/lib, which only the loader's cache names.
    if os.path.exists("/etc/ld.so.cache"):
        replicate("/etc/ld.so.cache", dest)

    # Byte code for what runs, and nothing else.
    for source in imported_files(opt):
        compile_into(source, dest)

    # What a process expects to find: CA bundle, users, name service, a writable /tmp.
    for bundle in ("/etc/ssl/certs/ca-certificates.crt", "/usr/lib/ssl/cert.pem"):
        if os.path.exists(bundle):
            replicate(bundle, dest)
    (dest / "etc").mkdir(exist_ok=True)
    (dest / "etc/passwd").write_text(USERS)
    (dest / "etc/group").write_text(GROUP)
    (dest / "etc/nsswitch.conf").write_text("hosts: files dns\n")
    for directory, mode in (("tmp", 0o1777), ("root", 0o700)):
        (dest / directory).mkdir(exist_ok=True)
        os.chmod(dest / directory, mode)
    dpkg_records({executable, str(stdlib / "os.py"), *libraries}, dest)

    # The tree must run on its own: import the action in it.
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    subprocess.run(
        [chroot, str(dest), f"{opt}/bin/python3", "-c", "import k1s0_action.pipeline"],
        env={"PYTHONPATH": f"{opt}/app:{opt}/site", "PYTHONDONTWRITEBYTECODE": "1"},
        check=True,
    )
    # And buildx, when the image carries it (a locally built one is dynamically linked).
    if (dest / opt.relative_to("/") / "bin/buildx").exists():
        subprocess.run([chroot, str(dest), f"{opt}/bin/buildx", "version"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
