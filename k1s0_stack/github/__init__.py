"""A GitHub REST server for the tests, checked against GitHub's official OpenAPI description."""

from k1s0_stack.github.server import LocalGitHub

__all__ = ["LocalGitHub"]
