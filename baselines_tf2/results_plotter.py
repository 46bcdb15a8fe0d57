"""`python -m baselines_tf2.results_plotter [--dirs RUN_DIR...]`: learning curves of runs, seeds averaged, to a PNG.

Each --dirs folder is searched recursively for runs: folders holding *monitor.csv files and/or a progress.csv.
Monitor files give real episode returns; a run without them is plotted from progress.csv's mean return (eprewmean).
Runs whose folder names differ only by a seed suffix (-seed3, _seed3, -s3, _3, -3, or run.py's -<date>-<time>)
are one curve: the mean of their smoothed returns on a common x grid, shaded +-1 standard error over the seeds.
A folder named only for its seed (runs/ppo2-pong/seed3) counts as its parent. One panel per env id.

Also baselines' results_plotter API: X_TIMESTEPS, X_EPISODES, X_WALLTIME, Y_REWARD, Y_TIMESTEPS,
plot_results(dirs, num_timesteps, xaxis, yaxis, title, split_fn), split_by_task, and the monitor helpers ts2xy,
rolling_window, window_func, plot_curves. Bad input prints the problem and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from baselines_tf2.bench.monitor import LoadMonitorResultsError
from baselines_tf2.common import plot_util

X_TIMESTEPS = "timesteps"
X_EPISODES = "episodes"
X_WALLTIME = "walltime"
POSSIBLE_X_AXES = [X_TIMESTEPS, X_EPISODES, X_WALLTIME]
X_LABELS = {X_TIMESTEPS: "timesteps", X_EPISODES: "episodes", X_WALLTIME: "wall time (hours)"}
X_AXIS_ALIASES = {"walltime_hrs": X_WALLTIME}  # baselines' name for the wall-time axis
Y_REWARD = "reward"
Y_TIMESTEPS = "timesteps"
Y_LABELS = {Y_REWARD: "episode return", Y_TIMESTEPS: "episode length"}
EPISODES_WINDOW = 100  # episodes in plot_curves' running mean
COLORS = ["blue", "green", "red", "cyan", "magenta", "yellow", "black", "purple", "pink", "brown", "orange", "teal",
          "coral", "lightblue", "lime", "lavender", "turquoise", "darkgreen", "tan", "salmon", "gold", "darkred",
          "darkblue"]


def rolling_window(a: np.ndarray, window: int) -> np.ndarray:
    """Read-only view of every `window` consecutive values along the last axis: [..., n] -> [..., n - window + 1,
    window]."""
    a = np.asarray(a)
    if not 1 <= window <= a.shape[-1]:
        raise ValueError(f"window must be between 1 and the series' length {a.shape[-1]}, got {window}")
    return np.lib.stride_tricks.sliding_window_view(a, window, axis=-1)


def window_func(x: np.ndarray, y: np.ndarray, window: int,
                func: Callable[..., np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(x from the window-th point on, func over each window of y), e.g. a running mean with func=np.mean."""
    return np.asarray(x)[window - 1:], func(rolling_window(y, window), axis=-1)


def ts2xy(ts: Any, xaxis: str, yaxis: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a monitor DataFrame (columns r, l, t): x cumulative steps, episode index (from 0) or hours;
    y episode returns (Y_REWARD) or lengths (Y_TIMESTEPS)."""
    xaxis = X_AXIS_ALIASES.get(xaxis, xaxis)
    if xaxis == X_TIMESTEPS:
        x = np.cumsum(ts["l"].to_numpy())
    elif xaxis == X_EPISODES:
        x = np.arange(len(ts))
    elif xaxis == X_WALLTIME:
        x = ts["t"].to_numpy() / 3600.0
    else:
        raise ValueError(f"unknown x axis {xaxis!r}; valid: {', '.join(POSSIBLE_X_AXES)}")
    if yaxis == Y_REWARD:
        return x, ts["r"].to_numpy()
    if yaxis == Y_TIMESTEPS:
        return x, ts["l"].to_numpy()
    raise ValueError(f"unknown y axis {yaxis!r}; valid: {Y_REWARD}, {Y_TIMESTEPS}")


def plot_curves(xy_list: Sequence[tuple[np.ndarray, np.ndarray]], xaxis: str, yaxis: str, title: str) -> Any:
    """A matplotlib Figure: each (x, y) as dots plus its running mean over EPISODES_WINDOW episodes.

    baselines drew on pyplot's current figure; this returns the figure (save it with `fig.savefig(path)`).
    A series shorter than the window is drawn as dots only.
    """
    figure = plot_util.figure_class()(figsize=(8, 2), layout="constrained")
    ax = figure.subplots()
    for index, (x, y) in enumerate(xy_list):
        color = COLORS[index % len(COLORS)]
        ax.scatter(x, y, s=2, color=color)
        if len(y) >= EPISODES_WINDOW:
            ax.plot(*window_func(x, y, EPISODES_WINDOW, np.mean), color=color)
    ax.set_xlim(0, max(x[-1] for x, _ in xy_list))
    ax.set_title(title)
    ax.set_xlabel(xaxis)
    ax.set_ylabel(yaxis)
    ax.grid(True)
    return figure


def split_by_task(taskpath: Any) -> str:
    """The task of a run from its folder name, the part before the first '-' (baselines' split function).

    `taskpath` is a plot_util `Result` or a mapping with a 'dirname' entry (baselines indexed it as a mapping).
    """
    dirname = taskpath["dirname"] if isinstance(taskpath, Mapping) else taskpath.dirname
    return os.path.basename(dirname.rstrip("/")).split("-")[0]


def plot_results(
    dirs: Sequence[str],
    num_timesteps: float | None = None,
    xaxis: str = X_TIMESTEPS,
    yaxis: str = Y_REWARD,
    title: str = "",
    split_fn: Callable[[Any], str] = split_by_task,
    *,
    smooth_radius: int = plot_util.DEFAULT_SMOOTH_RADIUS,
) -> Any:
    """A matplotlib Figure of the runs under `dirs`, one panel per `split_fn` key, seeds averaged per run name.

    `num_timesteps` drops what came after that many env steps (None: keep all); `yaxis` is the episode return
    (`Y_REWARD`) or length (`Y_TIMESTEPS`), smoothed over `smooth_radius` points each side; `title` goes above.
    """
    xaxis = X_AXIS_ALIASES.get(xaxis, xaxis)
    if yaxis not in Y_LABELS:
        raise ValueError(f"unknown y axis {yaxis!r}; valid: {', '.join(Y_LABELS)}")
    xy_fn = plot_util.make_xy_fn(xaxis, smooth_radius, max_timesteps=num_timesteps,
                                 yaxis="length" if yaxis == Y_TIMESTEPS else "return")
    results = plot_util.load_results(dirs)
    figure, _axes = plot_util.plot_results(results, xy_fn=xy_fn, split_fn=split_fn, xlabel=X_LABELS[xaxis],
                                           ylabel=Y_LABELS[yaxis])
    if title:
        figure.suptitle(title)
    return figure


def build_parser() -> argparse.ArgumentParser:
    """The command line's flags."""
    parser = argparse.ArgumentParser(prog="python -m baselines_tf2.results_plotter", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dirs", nargs="+", default=["./log"], metavar="RUN_DIR", type=os.path.expanduser,
                        help="folders searched for runs (default: ./log, as baselines')")
    parser.add_argument("--xaxis", default=X_TIMESTEPS, choices=POSSIBLE_X_AXES,
                        type=lambda value: X_AXIS_ALIASES.get(value, value),
                        help="x axis: env steps, episodes or wall-clock hours (default: timesteps)")
    parser.add_argument("--yaxis", default=Y_REWARD, choices=list(Y_LABELS),
                        help="y axis: episode returns or lengths (default: reward)")
    parser.add_argument("--out", default="curves.png", type=os.path.expanduser,
                        help="image to write; the extension picks the format")
    parser.add_argument("--smooth", type=int, default=plot_util.DEFAULT_SMOOTH_RADIUS, metavar="N",
                        help="average each return with N points either side before averaging seeds (default: "
                             f"{plot_util.DEFAULT_SMOOTH_RADIUS}; 0 = raw)")
    parser.add_argument("--num_timesteps", type=float, default=None, help="plot only the first N env steps")
    parser.add_argument("--task_name", default="", help="figure title")
    return parser


def save_figure(figure: Any, path: str) -> None:
    """Write the figure to exactly `path` (its extension picks the format; PNG without one) through a temporary file
    beside it, so an existing image is replaced only by a complete one."""
    image_format = os.path.splitext(path)[1][1:].lower() or "png"
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".plot.",
                                         suffix=f".{image_format}")
    os.close(handle)
    try:
        figure.savefig(temporary, format=image_format)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, load, plot, save; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for dirname in args.dirs:
        if not os.path.isdir(dirname):
            parser.error(f"--dirs: no such directory {dirname!r}")
    if args.smooth < 0:
        parser.error(f"--smooth must be >= 0, got {args.smooth}")
    out_folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_folder):
        parser.error(f"--out: no such folder {out_folder!r}")
    if os.path.isdir(args.out):
        parser.error(f"--out {args.out!r} is a folder; give an image file name, e.g. "
                     f"{os.path.join(args.out, 'curves.png')}")
    try:
        figure = plot_results(args.dirs, args.num_timesteps, args.xaxis, args.yaxis, title=args.task_name,
                              split_fn=plot_util.default_split_fn, smooth_radius=args.smooth)
        save_figure(figure, args.out)
    except ImportError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    except (OSError, ValueError, LoadMonitorResultsError) as err:
        parser.error(str(err))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
