"""scripts/slim-runtime.py's file-system helpers, on a small tree shaped like merged-/usr Debian:
a file reached through directory and file symlinks is copied with every link on the way, as the
dynamic loader of the FROM-scratch runtime needs them."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "slim_runtime", ROOT / "scripts" / "slim-runtime.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


slim = load_script()


@pytest.fixture
def system(tmp_path: Path) -> Path:
    """<tmp>/sys: usr/lib/x86_64-linux-gnu/{libc.so.6,ld-linux-x86-64.so.2}, lib -> usr/lib,
    lib64/ld-linux-x86-64.so.2 -> absolute path through lib, usr/bin/python3 -> python3.11."""
    root = tmp_path / "sys"
    libs = root / "usr" / "lib" / "x86_64-linux-gnu"
    libs.mkdir(parents=True)
    (libs / "libc.so.6").write_bytes(b"\x7fELF libc")
    (libs / "ld-linux-x86-64.so.2").write_bytes(b"\x7fELF ld")
    (root / "lib").symlink_to("usr/lib")
    (root / "lib64").mkdir()
    (root / "lib64" / "ld-linux-x86-64.so.2").symlink_to(
        root / "lib" / "x86_64-linux-gnu" / "ld-linux-x86-64.so.2"
    )
    (root / "usr" / "bin").mkdir()
    (root / "usr" / "bin" / "python3.11").write_bytes(b"\x7fELF python")
    (root / "usr" / "bin" / "python3").symlink_to("python3.11")
    return root


def in_dest(dest: Path, path: Path) -> Path:
    return dest / path.relative_to("/")


def test_a_library_through_a_directory_symlink_keeps_the_link(system: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    slim.replicate(str(system / "lib" / "x86_64-linux-gnu" / "libc.so.6"), dest)
    copied = in_dest(dest, system)
    assert os.readlink(copied / "lib") == "usr/lib"
    assert (
        copied / "usr" / "lib" / "x86_64-linux-gnu" / "libc.so.6"
    ).read_bytes() == b"\x7fELF libc"
    assert not (copied / "lib").resolve().is_relative_to(system)


def test_the_loader_link_and_its_absolute_target_chain_are_copied(
    system: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    slim.replicate(str(system / "lib64" / "ld-linux-x86-64.so.2"), dest)
    copied = in_dest(dest, system)
    link = copied / "lib64" / "ld-linux-x86-64.so.2"
    assert link.is_symlink()
    assert os.readlink(link) == str(system / "lib" / "x86_64-linux-gnu" / "ld-linux-x86-64.so.2")
    assert os.readlink(copied / "lib") == "usr/lib"
    assert (copied / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").read_bytes() == b"\x7fELF ld"


def test_the_interpreter_link_and_its_target(system: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    slim.replicate(str(system / "usr" / "bin" / "python3"), dest)
    copied = in_dest(dest, system) / "usr" / "bin"
    assert os.readlink(copied / "python3") == "python3.11"
    assert (copied / "python3.11").read_bytes() == b"\x7fELF python"


def test_replicating_twice_changes_nothing(system: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    for _ in range(2):
        slim.replicate(str(system / "lib" / "x86_64-linux-gnu" / "libc.so.6"), dest)
        slim.replicate(str(system / "lib64" / "ld-linux-x86-64.so.2"), dest)
    names = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    assert len(names) == len(set(names))


def test_elf_files_are_told_by_their_magic(tmp_path: Path) -> None:
    (tmp_path / "a.so").write_bytes(b"\x7fELF...")
    (tmp_path / "b.py").write_text("print()")
    assert slim.is_elf(tmp_path / "a.so")
    assert not slim.is_elf(tmp_path / "b.py")
