"""Videos of real game frames: MP4 through imageio-ffmpeg, or an animated GIF when no MP4 encoder is installed."""

from __future__ import annotations

import os
import tempfile
from typing import Sequence

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


def write_video(path: str, frames: Sequence[np.ndarray], fps: int = VIDEO_FPS) -> str:
    """Encode RGB frames into `video_path_for(path)` atomically (a temporary file, then a rename); the path written."""
    if not frames:
        raise ValueError(f"no frames to write to {path!r}")
    try:
        import imageio.v3 as imageio
    except ImportError:
        raise RuntimeError(f"writing videos needs imageio: {INSTALL_HINT}") from None
    target = video_path_for(path)
    extension = os.path.splitext(target)[1].lower()
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".video.", suffix=extension)
    os.close(handle)
    try:
        stacked = np.stack([np.asarray(frame, np.uint8) for frame in frames])
        if extension == ".gif":
            imageio.imwrite(temporary, stacked, extension=".gif", duration=1000 / fps, loop=0)
        else:
            imageio.imwrite(temporary, stacked, extension=extension, plugin="FFMPEG", fps=fps, macro_block_size=1)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return target
