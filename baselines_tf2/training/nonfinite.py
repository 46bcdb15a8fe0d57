"""Counting updates skipped for a non-finite loss or gradient, and stopping after too many in a row."""

from __future__ import annotations

import math

DEFAULT_MAX_NONFINITE_UPDATES = 10


class NonFiniteUpdateError(ArithmeticError):
    """Training stopped: too many consecutive updates had a non-finite loss or gradient norm."""


class NonFiniteGuard:
    """Tracks skipped updates; `max_consecutive` skipped in a row raise NonFiniteUpdateError naming the culprit."""

    def __init__(self, max_consecutive: int = DEFAULT_MAX_NONFINITE_UPDATES) -> None:
        if not isinstance(max_consecutive, int) or isinstance(max_consecutive, bool) or max_consecutive < 1:
            raise ValueError(f"max_nonfinite_updates must be an int >= 1, got {max_consecutive!r}")
        self.max_consecutive = max_consecutive
        self.consecutive = 0
        self.total_skipped = 0

    def record(self, skipped: bool, update: int, quantities: dict[str, float]) -> None:
        """Note gradient update number `update` (1-based over the run); `quantities` name the values checked."""
        if not skipped:
            self.consecutive = 0
            return
        self.consecutive += 1
        self.total_skipped += 1
        if self.consecutive >= self.max_consecutive:
            bad = ", ".join(f"{name} = {value}" for name, value in quantities.items() if not math.isfinite(value))
            raise NonFiniteUpdateError(
                f"gradient update {update} had a non-finite value ({bad}), making {self.consecutive} in a row; all "
                f"were skipped and training stops (max_nonfinite_updates = {self.max_consecutive}). "
                "The weights are those of the last good update; check the env's rewards and observations for "
                "NaN/inf, or lower the learning rate"
            )
