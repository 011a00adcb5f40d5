#!/usr/bin/env python3
"""The action container's entrypoint: runs the action with the runner's INPUT_* and GITHUB_*."""

import sys

from k1s0_action.cli import main

if __name__ == "__main__":
    sys.exit(main(["run"]))
