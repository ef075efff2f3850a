"""Progress of long jobs (loading, inference, validation, extraction) on standard error.

A :class:`Bar` is a ``loading.Progress``: it is called ``(stage, done, total)``.
On a terminal it redraws one line per stage in place; elsewhere (a log, a pipe)
it writes a line when a stage starts and when it ends, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 28


class Bar:
    """Draws progress on ``stream`` (standard error by default); ``live`` forces or stops redrawing in place."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.stage: str | None = None
        self.started = time.perf_counter()
        self._drawn = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage != self.stage:
            self._end()
            self.stage, self.started, self._drawn = stage, now, 0.0
            if not self.live:
                self.stream.write(f"{stage}: {total} to do\n")
        finished = total > 0 and done >= total
        if self.live and (finished or now - self._drawn >= 0.1):
            filled = int(WIDTH * done / total) if total else WIDTH
            bar = "#" * filled + "." * (WIDTH - filled)
            self.stream.write(f"\r{stage:<32} [{bar}] {done}/{total}  {now - self.started:5.1f} s")
            self._drawn = now
        if finished:
            self._end()
        self.stream.flush()

    def _end(self) -> None:
        """Close the current stage's line with its time."""
        if self.stage is None:
            return
        seconds = time.perf_counter() - self.started
        self.stream.write("\n" if self.live else f"{self.stage}: done in {seconds:.1f} s\n")
        self.stage = None

    def close(self) -> None:
        self._end()
        self.stream.flush()


def bar(enabled: bool | None) -> Bar | None:
    """A Bar on standard error: always when ``enabled``, never when False, on a terminal only when None."""
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return None
    return Bar(live=None if enabled is None else sys.stderr.isatty())
