"""What fits in a run's ConfigMap: checked while reading inputs and again when building it."""

from __future__ import annotations

import math

from nfk8s.errors import BadInput

# The API server refuses ConfigMaps over 1 MiB; the rest is headroom for run.json growth.
MAX_RECORD_BYTES = 900 * 1024


def stored_size(content: bytes) -> int:
    """Bytes a file takes in a ConfigMap: as text, or base64 when it is not UTF-8."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return (len(content) + 2) // 3 * 4
    return len(content)


def pipeline_too_large(size: int, *, what: str = "local pipeline") -> BadInput:
    return BadInput(
        f"{what} is {math.ceil(size / 1024)} KiB; a ConfigMap holds at most "
        f"~{MAX_RECORD_BYTES // 1024} KiB",
        hint="push it to git and run it by URL",
    )
