"""Learning curves of many runs: load monitor/progress files, smooth, average seeds, plot (baselines' plot_util API).

A run is a directory holding `*monitor.csv` files (bench.Monitor) and/or `progress.csv`/`progress.json` (the
logger). Runs are grouped into one curve per configuration by `group_fn`; the default, `run_name`, strips seed
suffixes from the directory name. matplotlib (the `plot` extra) is imported only when plotting.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from baselines_tf2 import logger
from baselines_tf2.bench.monitor import get_monitor_files
from baselines_tf2.bench.monitor import load_results as load_monitor

PLOT_EXTRA = "pip install 'baselines_tf2[plot]'"
PROGRESS_FILES = ("progress.csv", "progress.json")  # the first one present is read
X_AXES = ("timesteps", "episodes", "walltime")
# progress columns, most specific first: PPO2 logs misc/..., A2C bare names, DQN 'steps' and its 100-episode mean
PROGRESS_X_COLUMNS = {
    "timesteps": ("misc/total_timesteps", "total_timesteps", "steps"),
    "episodes": ("episodes",),
    "walltime": ("misc/time_elapsed", "time_elapsed"),
}
PROGRESS_Y_COLUMNS = {"return": ("eprewmean", "mean 100 episode reward"), "length": ("eplenmean",)}
SEED_SUFFIX = re.compile(r"(?:^|[-_])(?:seed|s)?\d+$", re.IGNORECASE)
DEFAULT_SMOOTH_RADIUS = 10  # episodes (monitor) or log rows (progress) on each side
GRID_POINTS = 512  # common x grid on which the seeds of a group are averaged
TILINGS = ("vertical", "horizontal", "symmetric")  # plot_results' panel layouts

XY = tuple[np.ndarray, np.ndarray]


class Result(NamedTuple):
    """One run directory's data (baselines' plot_util.Result; every field defaults to None, as there)."""

    monitor: Any = None  # pandas DataFrame of episodes (r, l, t; t in seconds from the run's start), or None
    progress: Any = None  # pandas DataFrame of the logger's progress file, or None
    dirname: Any = None  # the run's folder
    metadata: Any = None  # 'env_id' and 't_start' from the monitor headers, and the run's metadata.json if any


def smooth(
    y: Sequence[float] | np.ndarray, radius: int, mode: str = "two_sided", valid_only: bool = False
) -> np.ndarray:
    """baselines' moving average: over `radius` points each side ('two_sided', windows cut at the ends) or over the
    `radius` points up to and including each one ('causal'); a series shorter than 2 * radius + 1 becomes its
    mean everywhere. With `valid_only`, the first `radius` points (and for 'two_sided' the last `radius`) are NaN.
    """
    if mode not in ("two_sided", "causal"):
        raise ValueError(f"smooth: mode must be 'two_sided' or 'causal', got {mode!r}")
    if radius < 0:
        raise ValueError(f"smooth: radius must be >= 0, got {radius}")
    values = np.asarray(y, dtype=np.float64)
    if len(values) < 2 * radius + 1:
        return np.full_like(values, values.mean() if len(values) else np.nan)
    if radius == 0:
        return values.copy()
    sums = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(len(values))
    if mode == "two_sided":
        low, high = np.maximum(index - radius, 0), np.minimum(index + radius + 1, len(values))
    else:
        low, high = np.maximum(index - radius + 1, 0), index + 1
    out = (sums[high] - sums[low]) / (high - low)
    if valid_only:
        out[:radius] = np.nan
        if mode == "two_sided":
            out[-radius:] = np.nan
    return out


def _strip_seed(name: str) -> str:
    while (stripped := SEED_SUFFIX.sub("", name, count=1)) != name:
        name = stripped
    return name


def _holds_results(dirname: str, enable_progress: bool = True, enable_monitor: bool = True) -> bool:
    """Whether `dirname` holds monitor files or a progress file (of the enabled kinds)."""
    has_monitor = enable_monitor and bool(get_monitor_files(dirname))
    has_progress = enable_progress and any(os.path.isfile(os.path.join(dirname, f)) for f in PROGRESS_FILES)
    return has_monitor or has_progress


def run_name(dirname: str) -> str:
    """The name shared by the seeds of one configuration: the directory name with seed suffixes stripped.

    Suffixes are `-seed<N>`, `_seed<N>`, `-s<N>`, `_s<N>`, `-<N>`, `_<N>`, stripped repeatedly, so 'ppo2-Pong-seed3',
    'ppo2-Pong_3' and run.py's 'ppo2-Pong-20240101-120000' are all 'ppo2-Pong'. A directory named only for its seed
    ('seed3', '3') takes its parent's name; one inside another run's directory (run.py's `eval/`) is
    '<parent's name>/<its name>'.
    """
    path = os.path.abspath(dirname)
    parent = os.path.dirname(path)
    name = _strip_seed(os.path.basename(path))
    if not name:
        return _strip_seed(os.path.basename(parent)) or os.path.basename(path)
    if _holds_results(parent):
        return f"{run_name(parent)}/{name}"
    return name


def default_group_fn(result: Result) -> str:
    """Group runs by `run_name` of their directory."""
    return run_name(result.dirname)


def default_split_fn(r: Result) -> str:
    """One panel per env id (from the monitor headers); runs without monitor files share the '' panel."""
    return r.metadata.get("env_id") or ""


def _read_progress(dirname: str) -> Any:
    for filename in PROGRESS_FILES:
        path = os.path.join(dirname, filename)
        if os.path.isfile(path):
            if os.path.getsize(path) == 0:  # a run that never dumped
                return None
            return logger.read_csv(path) if filename.endswith(".csv") else logger.read_json(path)
    return None


def _load_dir(dirname: str, enable_progress: bool, enable_monitor: bool) -> Result:
    monitor = load_monitor(dirname) if enable_monitor and get_monitor_files(dirname) else None
    progress = _read_progress(dirname) if enable_progress else None
    metadata: dict[str, Any] = {}
    if monitor is not None:
        headers = monitor.attrs["headers"]
        metadata = {"env_id": headers[0].get("env_id"), "t_start": min(header["t_start"] for header in headers)}
    metadata_file = os.path.join(dirname, "metadata.json")
    if os.path.isfile(metadata_file):  # a run's own metadata, as baselines' load_results reads it
        with open(metadata_file) as file:
            saved = json.load(file)
        if isinstance(saved, dict):
            metadata.update(saved)
    return Result(monitor=monitor, progress=progress, dirname=dirname, metadata=metadata)


def load_results(
    root_dir_or_dirs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    enable_progress: bool = True,
    enable_monitor: bool = True,
    verbose: bool = False,
) -> list[Result]:
    """Every directory under the roots (searched recursively) with monitor and/or progress files, as Results.

    Raises FileNotFoundError for a root that is not a directory and ValueError for one holding no such files, so
    a typo does not silently drop a run from a plot.
    """
    roots = [root_dir_or_dirs] if isinstance(root_dir_or_dirs, (str, os.PathLike)) else list(root_dir_or_dirs)
    kinds = " or ".join(kind for kind, on in (("*monitor.csv", enable_monitor), ("progress.csv/json", enable_progress))
                        if on)
    results: list[Result] = []
    seen: set[str] = set()
    for root in roots:
        root = os.path.expanduser(os.fspath(root))
        if not os.path.isdir(root):
            raise FileNotFoundError(f"no such directory: {root!r}")
        found = 0
        for dirname, subdirs, _files in os.walk(root):
            subdirs.sort()
            real = os.path.realpath(dirname)
            if real in seen or not _holds_results(dirname, enable_progress, enable_monitor):
                continue
            seen.add(real)
            found += 1
            results.append(_load_dir(dirname, enable_progress, enable_monitor))
            if verbose:
                logger.log(f"loaded {dirname}")
        if not found:
            raise ValueError(f"{root!r} holds no {kinds} files (searched recursively)")
    return results


def _progress_column(progress: Any, candidates: Sequence[str], what: str, dirname: str) -> str:
    for column in candidates:
        if column in progress.columns:
            return column
    raise ValueError(f"{dirname}: the progress file has no {what} column (looked for {', '.join(candidates)}; "
                     f"it has {', '.join(map(str, progress.columns))})")


def make_xy_fn(
    xaxis: str = "timesteps", smooth_radius: int = DEFAULT_SMOOTH_RADIUS, max_timesteps: float | None = None,
    yaxis: str = "return",
) -> Callable[[Result], XY]:
    """An xy_fn: (x, smoothed episode return or length) of a run, from its monitor files if any, else its progress
    file.

    `xaxis` is 'timesteps' (env steps), 'episodes' or 'walltime' (hours); `yaxis` is 'return' or 'length';
    `max_timesteps` drops what came after.
    """
    if xaxis not in X_AXES:
        raise ValueError(f"unknown x axis {xaxis!r}; valid: {', '.join(X_AXES)}")
    if yaxis not in PROGRESS_Y_COLUMNS:
        raise ValueError(f"unknown y axis {yaxis!r}; valid: {', '.join(PROGRESS_Y_COLUMNS)}")

    def xy_fn(result: Result) -> XY:
        if result.monitor is not None:
            episodes = result.monitor
            timesteps = np.cumsum(episodes["l"].to_numpy(dtype=np.float64))
            x = {"timesteps": timesteps, "episodes": np.arange(1.0, len(episodes) + 1),
                 "walltime": episodes["t"].to_numpy(dtype=np.float64) / 3600.0}[xaxis]
            y = episodes["r" if yaxis == "return" else "l"].to_numpy(dtype=np.float64)
        elif result.progress is not None:
            progress = result.progress
            x_column = _progress_column(progress, PROGRESS_X_COLUMNS[xaxis], xaxis, result.dirname)
            y_column = _progress_column(progress, PROGRESS_Y_COLUMNS[yaxis], f"mean {yaxis}", result.dirname)
            t_column = x_column if max_timesteps is None else _progress_column(
                progress, PROGRESS_X_COLUMNS["timesteps"], "timesteps", result.dirname)
            rows = progress.dropna(subset=[x_column, y_column, t_column])  # other dumps (e.g. eval) lack them
            x = rows[x_column].to_numpy(dtype=np.float64) / (3600.0 if xaxis == "walltime" else 1.0)
            y = rows[y_column].to_numpy(dtype=np.float64)
            timesteps = rows[t_column].to_numpy(dtype=np.float64)
        else:
            raise ValueError(f"{result.dirname}: no monitor or progress data loaded")
        if max_timesteps is not None:
            keep = timesteps <= max_timesteps
            x, y = x[keep], y[keep]
        if len(x) == 0:
            raise ValueError(f"{result.dirname}: no episodes to plot")
        return x, smooth(y, smooth_radius)

    return xy_fn


_default_xy = make_xy_fn()


def default_xy_fn(r: Result) -> XY:
    """(env steps, episode return smoothed over 10 episodes each side) of a run: `make_xy_fn()`'s defaults."""
    return _default_xy(r)


def average_curves(
    curves: Sequence[XY], points: int = GRID_POINTS, smooth_step: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid, mean, sample std) of the curves resampled on a common grid spanning the x range they all cover.

    Resampling interpolates linearly; with `smooth_step`, it is baselines' `symmetric_ema` with that decay (in grid
    steps) instead.
    """
    ordered = [(x[np.argsort(x, kind="stable")], y[np.argsort(x, kind="stable")]) for x, y in curves]
    low = max(x[0] for x, _ in ordered)
    high = min(x[-1] for x, _ in ordered)
    if low > high:
        raise ValueError(f"the runs' x ranges do not overlap (one starts at {low:g}, another ends at {high:g})")
    grid = np.linspace(low, high, points) if high > low else np.array([low])
    if smooth_step is not None and high > low:
        ys = np.stack([symmetric_ema(x, y, low, high, points, decay_steps=smooth_step)[1] for x, y in ordered])
    else:
        ys = np.stack([np.interp(grid, x, y) for x, y in ordered])
    std = ys.std(axis=0, ddof=1) if len(ys) > 1 else np.zeros_like(grid)
    return grid, ys.mean(axis=0), std


def _one_key(_result: Result) -> str:
    return ""


def figure_class() -> Any:
    """matplotlib's Figure class (no GUI backend needed); ImportError naming the `plot` extra without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"plotting needs matplotlib: {PLOT_EXTRA}") from None
    return Figure


def plot_results(
    allresults: Sequence[Result],
    *,
    xy_fn: Callable[[Result], XY] = default_xy_fn,
    split_fn: Callable[[Result], str] | None = default_split_fn,
    group_fn: Callable[[Result], str] | None = default_group_fn,
    average_group: bool = True,
    shaded_std: bool = False,
    shaded_err: bool = True,
    figsize: tuple[float, float] | None = None,
    legend_outside: bool = False,
    resample: int = GRID_POINTS,
    smooth_step: float | None = None,
    tiling: str = "symmetric",
    xlabel: str | None = "timesteps",
    ylabel: str | None = "episode return",
) -> tuple[Any, np.ndarray]:
    """(matplotlib Figure, 2-D array of Axes): one panel per `split_fn` key, one colour per `group_fn` key.

    With `average_group`, a group's runs (its seeds) are interpolated on a common grid of `resample` points over
    the x range they all cover, and drawn as their mean with bands of +-1 sample std (`shaded_std`) and +-1
    standard error (`shaded_err`, std / sqrt(runs)); otherwise every run is its own line in its group's colour.
    `smooth_step` (baselines' EMA decay, in grid steps) resamples with `symmetric_ema` instead of interpolating,
    also each run's own line when `average_group` is False. `tiling` lays the panels out as in baselines:
    'vertical' (one column; baselines' default), 'horizontal' (one row) or 'symmetric' (a near-square grid; ours).
    The figure is not tied to a GUI backend: save it with `fig.savefig(path)`. As in baselines, `split_fn=None`
    puts every run in one panel, `group_fn=None` in one group, `resample=0` averages on 512 points, and an `xy_fn`
    may return pandas Series or `x=None` (the points' indices).
    """
    if not allresults:
        raise ValueError("plot_results: no results to plot")
    from matplotlib import rcParams

    if split_fn is None:
        split_fn = _one_key
    if group_fn is None:
        group_fn = _one_key
    resample = resample or GRID_POINTS

    def arrays_of(result: Result) -> XY:
        x, y = xy_fn(result)
        y = np.asarray(y, dtype=np.float64)
        return (np.arange(len(y), dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)), y

    panels: dict[str, dict[str, list[Result]]] = {}
    for result in allresults:
        panels.setdefault(split_fn(result), {}).setdefault(group_fn(result), []).append(result)
    groups = sorted({group for panel in panels.values() for group in panel})
    cycle = rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {group: cycle[index % len(cycle)] for index, group in enumerate(groups)}
    if tiling not in TILINGS:
        raise ValueError(f"plot_results: tiling must be one of {', '.join(TILINGS)}, got {tiling!r}")
    ncols = {"vertical": 1, "horizontal": len(panels), "symmetric": math.ceil(math.sqrt(len(panels)))}[tiling]
    nrows = math.ceil(len(panels) / ncols)
    figure = figure_class()(figsize=figsize or (6.4 * ncols, 4.8 * nrows), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (panel, members) in zip(axes.flat, sorted(panels.items())):
        for group, results in sorted(members.items()):
            curves = [arrays_of(result) for result in results]
            color = colors[group]
            if average_group:
                grid, mean, std = average_curves(curves, resample, smooth_step)
                label = f"{group} ({len(curves)} run{'s' if len(curves) > 1 else ''})"
                ax.plot(grid, mean, color=color, label=label)
                if shaded_std:
                    ax.fill_between(grid, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
                if shaded_err:
                    err = std / math.sqrt(len(curves))
                    ax.fill_between(grid, mean - err, mean + err, color=color, alpha=0.4, linewidth=0)
            else:
                for index, (x, y) in enumerate(curves):
                    if smooth_step is not None and np.ptp(x) > 0:
                        order = np.argsort(x, kind="stable")
                        x, y, _ = symmetric_ema(x[order], y[order], n=resample, decay_steps=smooth_step)
                    ax.plot(x, y, color=color, label=group if index == 0 else None)
        ax.set_title(panel)
        if xlabel:
            ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if legend_outside:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        else:
            ax.legend()
    return figure, axes


# ---- baselines' resampling and analysis helpers ------------------------------------------------------------

COLORS = ["blue", "green", "red", "cyan", "magenta", "yellow", "black", "purple", "pink", "brown", "orange", "teal",
          "lightblue", "lime", "lavender", "turquoise", "darkgreen", "tan", "salmon", "gold", "darkred", "darkblue"]


def one_sided_ema(
    xolds: np.ndarray, yolds: np.ndarray, low: float | None = None, high: float | None = None, n: int = 512,
    decay_steps: float = 1.0, low_counts_threshold: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Causal exponential moving average of y(x), resampled on `n` even points in [low, high] (baselines').

    `xolds` must be sorted and cover [low, high] (no extrapolation). A point old by dx weighs exp(-dx / period),
    period = `decay_steps` grid steps. Returns (grid, averages, total weights); averages whose total weight is
    below `low_counts_threshold` (no data yet) are NaN.
    """
    x = np.asarray(xolds, dtype=np.float64)
    y = np.asarray(yolds, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError(f"xolds and yolds differ in length ({len(x)} and {len(y)})")
    low = x[0] if low is None else low
    high = x[-1] if high is None else high
    if low < x[0] or high > x[-1]:
        raise ValueError(f"[{low}, {high}] is outside the data's x range [{x[0]}, {x[-1]}]; no extrapolation")
    grid = np.linspace(low, high, n)
    decay_period = (high - low) / (n - 1) * decay_steps
    step_decay = math.exp(-1.0 / decay_steps)
    sums = np.zeros(n)
    weights = np.zeros(n)
    total = weight = 0.0
    next_old = 0
    for i, x_new in enumerate(grid):
        total *= step_decay
        weight *= step_decay
        while next_old < len(x) and x[next_old] <= x_new:
            decay = math.exp(-(x_new - x[next_old]) / decay_period)
            total += decay * y[next_old]
            weight += decay
            next_old += 1
        sums[i], weights[i] = total, weight
    with np.errstate(invalid="ignore", divide="ignore"):
        averages = sums / weights
    averages[weights < low_counts_threshold] = np.nan
    return grid, averages, weights


def symmetric_ema(
    xolds: np.ndarray, yolds: np.ndarray, low: float | None = None, high: float | None = None, n: int = 512,
    decay_steps: float = 1.0, low_counts_threshold: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided EMA: one_sided_ema forwards and backwards, combined by their weights; same arguments and result."""
    x = np.asarray(xolds, dtype=np.float64)
    y = np.asarray(yolds, dtype=np.float64)
    low = x[0] if low is None else low
    high = x[-1] if high is None else high
    grid, forward, forward_weights = one_sided_ema(x, y, low, high, n, decay_steps, low_counts_threshold=0)
    _, backward, backward_weights = one_sided_ema(-x[::-1], y[::-1], -high, -low, n, decay_steps,
                                                  low_counts_threshold=0)
    backward, backward_weights = backward[::-1], backward_weights[::-1]
    weights = forward_weights + backward_weights
    with np.errstate(invalid="ignore", divide="ignore"):
        averages = (np.nan_to_num(forward) * forward_weights + np.nan_to_num(backward) * backward_weights) / weights
    averages[weights < low_counts_threshold] = np.nan
    return grid, averages, weights


def regression_analysis(df: Any) -> Any:
    """Least-squares fit of the DataFrame's 'score' column on its other columns plus a constant.

    Returns the coefficients as a pandas Series ('const' first). baselines printed statsmodels' OLS summary
    instead; statsmodels is not a dependency here.
    """
    import pandas  # lazy, as everywhere in this module

    if "score" not in df.columns:
        raise ValueError(f"regression_analysis needs a 'score' column; got {', '.join(map(str, df.columns))}")
    features = [column for column in df.columns if column != "score"]
    design = np.column_stack([np.ones(len(df)), df[features].to_numpy(dtype=np.float64)])
    coefficients, *_ = np.linalg.lstsq(design, df["score"].to_numpy(dtype=np.float64), rcond=None)
    return pandas.Series(coefficients, index=["const", *features])
