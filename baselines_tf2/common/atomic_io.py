"""Atomic file writes: readers see the old file or the complete new one, never a half-written one."""

from __future__ import annotations

import os
import secrets
from typing import BinaryIO, Callable


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Have `write(file)` fill a temporary file in the same folder, fsync it, rename it over `path`, then fsync
    the folder so the rename itself survives a power cut. On any error, a second Ctrl-C included, `path` is left as
    it was and the temporary file is removed. A `path` that is a folder is an IsADirectoryError before writing."""
    if os.path.isdir(path):  # found now, not by the rename after a whole checkpoint was written
        raise IsADirectoryError(f"{os.fspath(path)!r} is a folder, so no file can be written there; give a file path "
                                f"such as {os.path.join(os.fspath(path), 'model')!r}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # The name is chosen before the file exists, so the cleanup below knows it whenever an interrupt lands (with
    # tempfile.mkstemp, one landing after the file was made but before its name came back left the file behind).
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(8)}.partial")
    try:
        # 0o666 less the umask: the permissions any new file gets
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _fsync_folder(folder)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """`atomic_write` of `data`."""
    atomic_write(path, lambda file: file.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_folder(folder: str) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

