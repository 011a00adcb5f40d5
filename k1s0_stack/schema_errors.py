"""How the contract checks of LocalHarbor and LocalGitHub word an openapi-core error."""

from __future__ import annotations


def describe(error: Exception) -> str:
    """The innermost schema errors (with their JSON paths), else the error's own text."""
    current: BaseException | None = error
    while current is not None:
        found = getattr(current, "schema_errors", None)
        if found:
            return "; ".join(
                f"{'/'.join(str(p) for p in getattr(e, 'absolute_path', []))}: "
                f"{str(getattr(e, 'message', e))[:200]}"
                for e in found
            )
        current = current.__cause__
    return f"{type(error).__name__}: {str(error)[:300]}"
