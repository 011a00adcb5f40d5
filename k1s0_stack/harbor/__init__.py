"""A Harbor-compatible local server (see server.py); `python -m k1s0_stack.harbor` runs it."""

from k1s0_stack.harbor.server import LocalHarbor
from k1s0_stack.harbor.service import ACTION_PERMISSIONS, CI_PERMISSIONS, PERMISSION_SETS, Robot

__all__ = ["ACTION_PERMISSIONS", "CI_PERMISSIONS", "PERMISSION_SETS", "LocalHarbor", "Robot"]
