"""Graceful stops: the first SIGINT/SIGTERM asks training to stop at a safe point; a second Ctrl-C stops at once.

Training loops poll `StopRequest.signum` between steps, write a final checkpoint and raise `TrainingInterrupted`.
Checkpoint writes are atomic, so stopping at once (second Ctrl-C) never leaves a half-written checkpoint.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from baselines_tf2 import logger

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal after writing a final checkpoint; `exit_status` is 128 + the signal number.

    `agent` is the model as it stood at the stop (so a caller can still save it where its user asked);
    `unsaved_reason` says why `checkpoint` is None.
    """

    def __init__(self, signum: int, checkpoint: str | None, agent: Any = None,
                 unsaved_reason: str = "no log dir, so no checkpoint was written") -> None:
        where = f"; final checkpoint {checkpoint}" if checkpoint else f"; {unsaved_reason}"
        super().__init__(f"training stopped by {signal.Signals(signum).name}{where}")
        self.signum = signum
        self.checkpoint = checkpoint
        self.agent = agent

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class StopRequest:
    """Context manager turning SIGINT/SIGTERM into a flag (`signum`), restoring the previous handlers on exit.

    Outside the main thread signals cannot be caught; there it does nothing and `signum` stays None.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # asked twice: stop now
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopping at once")
        self.signum = signum
        logger.log(f"received {signal.Signals(signum).name}: finishing the current step, saving a checkpoint, "
                   "then exiting (press Ctrl-C again to exit at once)")

    @property
    def requested(self) -> bool:
        return self.signum is not None
