"""The job summary, as Markdown (pure rendering)."""

from __future__ import annotations

from collections.abc import Sequence


def image_summary(
    image: str, digest: str | None, pushed_tags: Sequence[str], planned_tags: Sequence[str]
) -> str:
    lines = ["## k1s0-image", "", "| | |", "|---|---|", f"| Image | `{image}` |"]
    if digest:
        lines.append(f"| Digest | `{digest}` |")
        lines.append(f"| Reference | `{image}@{digest}` |")
    shown = ", ".join(f"`{tag}`" for tag in pushed_tags) or "none (not pushed)"
    lines.append(f"| Tags | {shown} |")
    held_back = [tag for tag in planned_tags if tag not in pushed_tags]
    if held_back:
        lines.append(f"| Not applied | {', '.join(f'`{tag}`' for tag in held_back)} |")
    return "\n".join(lines) + "\n"
