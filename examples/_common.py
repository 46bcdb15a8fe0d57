"""What the experiment examples share: their command line, optional imports with an install hint, and figures.

Every figure is drawn by baselines_tf2.common.plot_util from the Monitor files the runs wrote, so the examples'
plots read exactly as `python -m baselines_tf2.results_plotter` would draw the same folders.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from baselines_tf2.common import plot_util


def example_parser(doc: str, default_out: str) -> argparse.ArgumentParser:
    """A parser with the flags every example takes: --out (its folder) and --smoke (tiny run, same outputs)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(default_out), help="folder for the runs and the figure")
    parser.add_argument("--smoke", action="store_true", help="tiny step counts: checks the pipeline in seconds")
    return parser


def require(module: str, package: str) -> ModuleType:
    """Import an optional dependency, or exit with status 1 naming the pip command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        sys.exit(f"{Path(sys.argv[0]).name}: this example needs the {package!r} package: pip install {package}")


def save_curves(
    run_dirs: Sequence[Path], png: Path, *, smooth_radius: int | Callable[[plot_util.Result], int], **plot_kwargs: Any
) -> list[plot_util.Result]:
    """Draw the runs' Monitor curves with plot_util.plot_results into `png`; return the loaded results.

    `smooth_radius` (episodes each side) may depend on the run, e.g. on its env; `plot_kwargs` go to plot_results
    (group_fn, split_fn, average_group, ...). Its defaults: one panel per env id, one curve per run name (the
    folder name without its seed suffix), the mean of the seeds with a band of +-1 standard error.
    """
    results = plot_util.load_results([str(path) for path in run_dirs], enable_progress=False)
    radius = smooth_radius if callable(smooth_radius) else lambda _result: smooth_radius

    def xy_fn(result: plot_util.Result) -> plot_util.XY:
        return plot_util.make_xy_fn("timesteps", smooth_radius=radius(result))(result)

    figure, _axes = plot_util.plot_results(results, xy_fn=xy_fn, **plot_kwargs)
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=100)
    print(f"figure written to {png}")
    return results
