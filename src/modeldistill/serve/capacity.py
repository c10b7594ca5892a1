"""How many of the workers asked for are serving: the supervisor shares one flag per worker slot,
and /readyz reads them (503 "degraded" while one is missing)."""

from __future__ import annotations

# In a worker: (the shared per-slot "serving" flags, N). None in a process the parent did not start.
_shared: tuple | None = None


def share(flags) -> None:
    """Called once in a worker with the supervisor's shared flags (a multiprocessing array)."""
    global _shared
    _shared = (flags, len(flags))


def serving_capacity() -> tuple[int, int] | None:
    """(workers serving now, workers asked for) under `--workers N`, or None for one process
    (the process itself is all the capacity there is)."""
    if _shared is None:
        return None
    flags, wanted = _shared
    return sum(flags), wanted
