"""Downloads one file and installs it only if its sha256 matches (used by the action's Dockerfile).

The classic Docker builder, which act and docker-py use, has no `ADD --checksum`, and the slim
Python base has no curl: the standard library does both jobs. A `file:///` URL names a file in the
build stage's base image (the tests' local stand-in carries cosign there, as nothing can be
downloaded from GitHub on the test machines); the checksum is checked all the same.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from pathlib import Path


def main(url: str, sha256: str, dest: str) -> int:
    if not url.startswith(("https://", "file:///")):
        print(f"refusing {url}: only https or a file in the base image", file=sys.stderr)
        return 1
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - scheme checked
        data = response.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        print(f"checksum mismatch for {url}: got {actual}, want {sha256}", file=sys.stderr)
        return 1
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    os.chmod(target, 0o755)  # noqa: S103 - an executable, read-only to others
    print(f"{target}: sha256 {actual} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
