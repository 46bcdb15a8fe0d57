"""benchmarks/continuous_control.py's learning mode: the report and plot made from finished runs' monitor files
(the training itself is the real CLI and SB3, hours per run; here the folders are written as those runs write them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import continuous_control  # noqa: E402

TIMESTEPS = 20_000


def write_finished_run(out: Path, side: str, seed: int, returns: list[float], settings: dict) -> None:
    """A run folder as a finished learning run leaves it: a monitor file of 1000-step episodes and result.json."""
    args = continuous_control.parse_args(["--mode", "learning", "--algs", "sac", "--timesteps", str(TIMESTEPS),
                                          "--out", str(out)])
    run_dir = continuous_control.learning_run_dir(args, "sac", side, seed)
    run_dir.mkdir(parents=True)
    rows = [f"{ret},1000,{index * 5.0 + 5.0}" for index, ret in enumerate(returns)]
    (run_dir / "0.monitor.csv").write_text('#{"t_start": 0.0}\nr,l,t\n' + "\n".join(rows) + "\n")
    result = {"alg": "sac", "side": side, "seed": seed, "timesteps": TIMESTEPS, "wall_s": 50.0,
              "settings": settings, "command": [], "reported": {}}
    (run_dir / continuous_control.RESULT_FILE).write_text(json.dumps(result))


def test_report_and_plot_give_each_sides_mean_and_standard_error(tmp_path: Path) -> None:
    """Two seeds a side: the last-10 mean per run, mean ± s.e. over seeds per side, and a plot file."""
    out, plot = tmp_path / "runs", tmp_path / "curves.png"
    argv = ["--mode", "learning", "--algs", "sac", "--timesteps", str(TIMESTEPS), "--seeds", "0", "1", "--out",
            str(out), "--report_only", "--plot", str(plot)]
    settings = json.loads(json.dumps(continuous_control.parse_args(argv).settings["sac"]))
    for seed, final in ((0, 100.0), (1, 300.0)):
        write_finished_run(out, "ours", seed, [-50.0] * 5 + [final] * 10, settings)
        write_finished_run(out, "peer", seed, [-50.0] * 5 + [final / 2] * 10, settings)

    text = continuous_control.run_learning(continuous_control.parse_args(argv), {"sac": settings}, None)

    # the first five episodes fall outside the last 10; over seeds (100, 300) and (50, 150)
    assert "| sac | ours | 2 | 200.0 ± 100.0 | 100.0, 300.0 |" in text
    assert "| sac | peer | 2 | 100.0 ± 50.0 | 50.0, 150.0 |" in text
    assert plot.stat().st_size > 0


def test_a_run_trained_with_other_settings_is_refused(tmp_path: Path) -> None:
    """A finished run whose settings differ from this invocation's is not mixed into the comparison."""
    out = tmp_path / "runs"
    argv = ["--mode", "learning", "--algs", "sac", "--timesteps", str(TIMESTEPS), "--seeds", "0", "--out", str(out),
            "--report_only"]
    settings = json.loads(json.dumps(continuous_control.parse_args(argv).settings["sac"]))
    write_finished_run(out, "ours", 0, [1.0] * 10, {**settings, "batch_size": 64})
    with pytest.raises(SystemExit, match="other settings"):
        continuous_control.run_learning(continuous_control.parse_args(argv), {"sac": settings}, None)
