"""Videos of real game frames: MP4 through imageio-ffmpeg, or an animated GIF when no MP4 encoder is installed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any, Sequence

import numpy as np

VIDEO_FPS = 30
INSTALL_HINT = "pip install 'baselines_tf2[video]'"


def mp4_encoder_available() -> bool:
    """Whether imageio-ffmpeg and its ffmpeg binary are installed."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return False
    return True


def video_path_for(path: str) -> str:
    """`path`, or the same name ending in .gif when it asks for MP4 and no MP4 encoder is installed."""
    stem, extension = os.path.splitext(path)
    if extension.lower() in ("", ".mp4") and not mp4_encoder_available():
        return stem + ".gif"
    return path if extension else path + ".mp4"


def video_path_problem(path: str) -> str | None:
    """What keeps `write_video(path, ...)` from writing (for a check before the frames are played), or None."""
    try:
        import imageio.config
    except ImportError:
        return f"--video needs imageio: {INSTALL_HINT}"
    if os.path.isdir(path):
        return f"--video {path!r} is a folder; give a file name, e.g. {os.path.join(path, 'play.mp4')}"
    target = video_path_for(path)
    extension = os.path.splitext(target)[1].lower()
    encoders = {"GIF": [".gif"]}  # imageio's own (pillow) writes GIFs; ffmpeg writes the others
    if mp4_encoder_available():
        encoders["FFMPEG"] = [entry.extension for entry in imageio.config.extension_list if "FFMPEG" in entry.priority]
    valid = sorted({extension for extensions in encoders.values() for extension in extensions})
    if extension not in valid:
        return f"--video {path!r}: no installed encoder writes {extension} files; valid endings: {', '.join(valid)}"
    folder = os.path.dirname(os.path.abspath(target))
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # the video is written beside its destination, then renamed
            pass
    except OSError as err:
        return f"--video: cannot write in {folder!r} ({err.strerror}); give a path in a writable folder"
    return None


class VideoWriter:
    """Encode RGB frames into `video_path_for(path)` as they come, published atomically by `close()` (a temporary
    file beside it, then a rename). MP4 frames stream into ffmpeg, so a long game is never held in memory; a GIF
    (the fallback without ffmpeg) is encoded from all its frames at the end. As a context manager it closes on
    success and discards the partial file on an error."""

    def __init__(self, path: str, fps: int = VIDEO_FPS) -> None:
        try:
            import imageio.v2  # noqa: F401  (checked first: a play must not fail only after its last episode)
        except ImportError:
            raise RuntimeError(f"writing videos needs imageio: {INSTALL_HINT}") from None
        self.path = video_path_for(path)
        self.fps = fps
        self.extension = os.path.splitext(self.path)[1].lower()
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        handle, self._temporary = tempfile.mkstemp(dir=folder, prefix=".video.", suffix=self.extension)
        os.close(handle)
        self.frames_written = 0
        self._gif_frames: list[np.ndarray] = []
        self._stream: Any = None

    def append(self, frame: np.ndarray) -> None:
        """Add one RGB frame (height x width x 3, uint8)."""
        frame = np.asarray(frame, np.uint8)
        if self.extension == ".gif":
            self._gif_frames.append(frame)
        else:
            if self._stream is None:
                import imageio.v2 as imageio_v2

                self._stream = imageio_v2.get_writer(self._temporary, format="FFMPEG", fps=self.fps,
                                                     macro_block_size=1)
            self._stream.append_data(frame)
        self.frames_written += 1

    def close(self) -> str:
        """Finish the file and move it to its path; the path written. ValueError if no frame was added."""
        if not self.frames_written:
            self.discard()
            raise ValueError(f"no frames to write to {self.path!r}")
        try:
            if self._stream is not None:
                self._stream.close()
                self._stream = None
            if self._gif_frames:
                import imageio.v3 as imageio_v3

                imageio_v3.imwrite(self._temporary, np.stack(self._gif_frames), extension=".gif",
                                   duration=1000 / self.fps, loop=0)
                self._gif_frames = []
            os.replace(self._temporary, self.path)
        except BaseException:
            self.discard()
            raise
        return self.path

    def discard(self) -> None:
        """Drop the partial file (nothing is written to `path`)."""
        if self._stream is not None:
            with contextlib.suppress(Exception):  # the encoder may be what failed
                self._stream.close()
            self._stream = None
        self._gif_frames = []
        if os.path.exists(self._temporary):
            os.unlink(self._temporary)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, error_type: Any, _error: Any, _traceback: Any) -> None:
        if error_type is None:
            self.close()
        else:
            self.discard()


def write_video(path: str, frames: Sequence[np.ndarray], fps: int = VIDEO_FPS) -> str:
    """Encode RGB frames into `video_path_for(path)` atomically (a temporary file, then a rename); the path written."""
    if not frames:
        raise ValueError(f"no frames to write to {path!r}")
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            writer.append(frame)
    return writer.path
