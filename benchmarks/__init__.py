"""Benchmarks: run on demand with `make bench` or `python -m benchmarks`."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_mb() -> float:
    """This process's peak RSS in MB: VmHWM, which starts afresh at exec (``ru_maxrss`` keeps
    the peak the parent had at the fork, so a variant started by a big parent would report
    the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
