"""baselines' console helpers: fixed-width table rows, ANSI colours, a timing context, and shell commands echoed."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

color2num = {"gray": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35, "cyan": 36,
             "white": 37, "crimson": 38}  # ANSI foreground codes; +10 is the background
MESSAGE_DEPTH = 0  # how many `timed` blocks are open: their messages are indented by one tab each


def fmt_item(x: Any, l: int) -> str:  # noqa: E741 - baselines' parameter names
    """`x` as text right-aligned in at least `l` characters; floats as %7.5f, or %7.2e when tiny or huge."""
    if isinstance(x, np.ndarray):
        if x.ndim != 0:
            raise ValueError(f"fmt_item takes a scalar or a 0-d array, got shape {x.shape}")
        x = x.item()
    if isinstance(x, (float, np.floating)):
        magnitude = abs(x)
        text = "%7.2e" % x if 0 < magnitude and (magnitude < 1e-4 or magnitude > 1e4) else "%7.5f" % x
    else:
        text = str(x)
    return text.rjust(l)


def fmt_row(width: int, row: Sequence[Any], header: bool = False) -> str:
    """The items of `row` each right-aligned in `width` characters, joined by ' | '; a header is underlined."""
    out = " | ".join(fmt_item(x, width) for x in row)
    return out + "\n" + "-" * len(out) if header else out


def colorize(string: str, color: str = "green", bold: bool = False, highlight: bool = False) -> str:
    """`string` wrapped in ANSI codes: `color` (a key of `color2num`) as text, or as background if `highlight`."""
    codes = [str(color2num[color] + (10 if highlight else 0))]
    if bold:
        codes.append("1")
    return f"\x1b[{';'.join(codes)}m{string}\x1b[0m"


def print_cmd(cmd: str | Sequence[str], dry: bool = False) -> None:
    """Print a shell command (a string, or a list quoted for the shell), prefixed 'CMD: ', or 'DRY: ' if `dry`."""
    text = cmd if isinstance(cmd, str) else " ".join(shlex.quote(arg) for arg in cmd)
    print(colorize(("DRY: " if dry else "CMD: ") + text))


def get_git_commit(cwd: str | None = None) -> str:
    """The short hash of HEAD of the git repository at `cwd` (output as git prints it, newline included)."""
    return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=cwd).decode("utf8")


def get_git_commit_message(cwd: str | None = None) -> str:
    """The message of HEAD's commit in the git repository at `cwd`."""
    return subprocess.check_output(["git", "show", "-s", "--format=%B", "HEAD"], cwd=cwd).decode("utf8")


def ccap(cmd: str | Sequence[str], dry: bool = False, env: Mapping[str, str] | None = None, **kwargs: Any) -> None:
    """Print `cmd`, then run it unless `dry` (subprocess.check_call: a non-zero exit raises CalledProcessError)."""
    print_cmd(cmd, dry)
    if not dry:
        subprocess.check_call(cmd, env=env, **kwargs)


@contextmanager
def timed(msg: str) -> Iterator[None]:
    """Print `msg`, run the block, then print how many seconds it took (nested blocks are indented)."""
    global MESSAGE_DEPTH
    print(colorize("\t" * MESSAGE_DEPTH + "=: " + msg, "magenta"))
    start = time.perf_counter()
    MESSAGE_DEPTH += 1
    try:
        yield
    finally:
        MESSAGE_DEPTH -= 1
    print(colorize("\t" * MESSAGE_DEPTH + f"done in {time.perf_counter() - start:.3f} seconds", "magenta"))
