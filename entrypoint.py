#!/usr/bin/env python3
"""The action container's entrypoint: runs the action (or, with input command: rescan, the
rescan of released images) with the runner's INPUT_* and GITHUB_*."""

import sys

from k1s0_action.cli import action_main

if __name__ == "__main__":
    sys.exit(action_main())
