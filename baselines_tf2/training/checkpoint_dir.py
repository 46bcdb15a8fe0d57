"""A folder of training checkpoints: numbered files, a `latest` pointer written after each, only the last K kept."""

from __future__ import annotations

import os
from typing import Callable

from baselines_tf2.common.atomic_io import atomic_write_text
from baselines_tf2.training.checkpoint import LATEST_POINTER, CheckpointError, resolve_checkpoint_path

DEFAULT_KEEP = 5


class CheckpointDirectory:
    """`<folder>/<number>` checkpoints; `<folder>/latest` names the newest complete one; `keep` newest kept (0: all).

    The pointer is written only after the checkpoint file is complete and renamed into place, so it never
    names a partial file; older checkpoints are deleted only after the pointer moved past them.
    """

    def __init__(self, folder: str, keep: int = DEFAULT_KEEP) -> None:
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
            raise ValueError(f"keep_checkpoints must be an int >= 0 (0 keeps all), got {keep!r}")
        self.folder = folder
        self.keep = keep

    def save(self, number: int, write: Callable[[str], None]) -> str:
        """`write(path)` the checkpoint numbered `number`, point `latest` at it, prune old ones; its path."""
        name = f"{number:05d}"
        path = os.path.join(self.folder, name)
        write(path)
        atomic_write_text(os.path.join(self.folder, LATEST_POINTER), name + "\n")
        self._prune(keep_name=name)
        return path

    def latest(self) -> str | None:
        """Path of the newest complete checkpoint (the one `latest` names), or None if there is none."""
        try:
            return resolve_checkpoint_path(self.folder) if os.path.isdir(self.folder) else None
        except CheckpointError:
            return None

    def numbered(self) -> list[str]:
        """Names of the numbered checkpoints in the folder, oldest first."""
        if not os.path.isdir(self.folder):
            return []
        return sorted((name for name in os.listdir(self.folder) if name.isdigit()), key=int)

    def _prune(self, keep_name: str) -> None:
        if not self.keep:
            return
        names = self.numbered()
        for name in names[: max(0, len(names) - self.keep)]:
            if name != keep_name:
                os.unlink(os.path.join(self.folder, name))
