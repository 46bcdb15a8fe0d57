"""Learning-curve plots: the CLI draws one curve per group (seeds averaged) into a PNG; smoothing; loading; errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import Finished, run_concurrently

from baselines_tf2 import logger
from baselines_tf2.bench.monitor import ResultsWriter
from baselines_tf2.common import plot_util

PLOTTER = [sys.executable, "-m", "baselines_tf2.results_plotter"]
TIMEOUT_S = 60
EPISODES = 120


def write_monitor(path: Path, returns: np.ndarray, t_start: float) -> None:
    """A monitor.csv as bench.Monitor writes it: 100-step episodes one second apart."""
    writer = ResultsWriter(str(path), header={"t_start": t_start, "env_id": "CartPole-v1"})
    for index, episode_return in enumerate(returns):
        writer.write_row({"r": round(float(episode_return), 3), "l": 100, "t": float(index + 1)})
    writer.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two groups of two seeds, each seed with two envs' monitor files: 'rising' (20 -> 140) and 'flat' (20)."""
    root = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    for group, slope in (("rising", 1.0), ("flat", 0.0)):
        for seed in range(2):
            run_dir = root / f"{group}-seed{seed}"
            for env_index in range(2):
                returns = 20 + slope * np.arange(EPISODES) + rng.normal(0, 2, EPISODES)
                write_monitor(run_dir / f"0.{env_index}", returns, t_start=1000.0 + seed)
    return root


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the CLI runs and writes; holds an empty folder and a run with only a progress.csv."""
    scratch = tmp_path_factory.mktemp("plot_cli")
    (scratch / "empty").mkdir()
    progress_only = scratch / "progress_only"
    progress_only.mkdir()
    (progress_only / "progress.csv").write_text("misc/total_timesteps,eprewmean\n128,20.0\n256,22.0\n")
    return scratch


@pytest.fixture(scope="module")
def cli(runs: Path, scratch: Path) -> dict[str, Finished]:
    """The good command and the bad-input ones, run concurrently."""
    progress_only = scratch / "progress_only"
    commands = {
        "plot": PLOTTER + ["--dirs", str(runs), "--out", str(scratch / "curves.png"), "--smooth", "5"],
        "missing_dir": PLOTTER + ["--dirs", str(runs), str(scratch / "nope")],
        "empty_dir": PLOTTER + ["--dirs", str(scratch / "empty")],
        "bad_xaxis": PLOTTER + ["--dirs", str(runs), "--xaxis", "steps"],
        "negative_smooth": PLOTTER + ["--dirs", str(runs), "--smooth", "-1"],
        "no_episode_column": PLOTTER + ["--dirs", str(progress_only), "--xaxis", "episodes"],
        "out_in_missing_folder": PLOTTER + ["--dirs", str(runs), "--out", str(scratch / "no" / "c.png")],
        "lengths": PLOTTER + ["--dirs", str(runs), "--yaxis", "timesteps", "--out", str(scratch / "lengths.svg")],
        "bad_yaxis": PLOTTER + ["--dirs", str(runs), "--yaxis", "length"],
        "no_dirs_no_log_folder": PLOTTER,  # baselines' default: ./log (none in scratch)
        "out_is_a_folder": PLOTTER + ["--dirs", str(runs), "--out", str(scratch / "empty")],
        "out_without_extension": PLOTTER + ["--dirs", str(runs), "--out", str(scratch / "plain" / "curves")],
        "unknown_format": PLOTTER + ["--dirs", str(runs), "--out", str(scratch / "plain" / "curves.xyz")],
    }
    (scratch / "plain").mkdir()
    return run_concurrently(commands, scratch, timeout=TIMEOUT_S)


def line_pixels(image: np.ndarray, color: Any, tolerance: float = 0.04) -> np.ndarray:
    """(row, column) of the pixels drawn in this colour (the lines, not the lighter shaded bands)."""
    from matplotlib.colors import to_rgb

    rgb = np.array(to_rgb(color))
    return np.argwhere(np.abs(image[..., :3] - rgb).max(axis=-1) < tolerance)


def rise_in_pixels(pixels: np.ndarray) -> float:
    """How far the curve climbs from the left third of its columns to the right third (median rows; up is +)."""
    columns = np.unique(pixels[:, 1])
    medians = np.array([np.median(pixels[pixels[:, 1] == column, 0]) for column in columns])
    third = len(columns) // 3
    return float(np.median(medians[:third]) - np.median(medians[-third:]))


def test_cli_draws_a_rising_and_a_flat_curve_in_two_colours(cli: dict[str, Finished], scratch: Path) -> None:
    import matplotlib
    import matplotlib.image

    result = cli["plot"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"wrote {scratch / 'curves.png'}"
    image = matplotlib.image.imread(scratch / "curves.png")
    first, second = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][:2]  # groups in sorted order
    flat, rising = line_pixels(image, first), line_pixels(image, second)
    assert len(flat) > 300 and len(rising) > 300, (len(flat), len(rising))
    height = image.shape[0]
    assert rise_in_pixels(rising) > 0.3 * height  # 20 -> 140 spans most of the axes
    assert abs(rise_in_pixels(flat)) < 0.03 * height


def test_cli_plots_episode_lengths_with_yaxis_timesteps(cli: dict[str, Finished], scratch: Path) -> None:
    result = cli["lengths"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "episode length" in (scratch / "lengths.svg").read_text()  # the y label baselines' Y_TIMESTEPS names


@pytest.mark.parametrize("case, message", [
    ("missing_dir", "--dirs: no such directory '{scratch}/nope'"),
    ("empty_dir", "'{scratch}/empty' holds no *monitor.csv or progress.csv/json files"),
    ("bad_xaxis", "argument --xaxis: invalid choice: 'steps'"),
    ("negative_smooth", "--smooth must be >= 0, got -1"),
    ("no_episode_column", "{scratch}/progress_only: the progress file has no episodes column"),
    ("out_in_missing_folder", "--out: no such folder '{scratch}/no'"),
    ("bad_yaxis", "argument --yaxis: invalid choice: 'length' (choose from 'reward', 'timesteps')"),
    ("no_dirs_no_log_folder", "--dirs: no such directory './log'"),
    ("out_is_a_folder", "--out '{scratch}/empty' is a folder; give an image file name"),
    ("unknown_format", "Format 'xyz' is not supported"),
])
def test_bad_input_exits_2_naming_the_dir_or_flag(
    cli: dict[str, Finished], scratch: Path, case: str, message: str
) -> None:
    result = cli[case]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message.format(scratch=scratch) in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_the_image_is_written_to_exactly_the_path_printed(cli: dict[str, Finished], scratch: Path) -> None:
    """Without an extension matplotlib wrote `<out>.png` while the tool said it wrote `<out>`; and a failed write
    (an unknown format) leaves no partial or temporary file."""
    result = cli["out_without_extension"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"wrote {scratch / 'plain' / 'curves'}"
    assert (scratch / "plain" / "curves").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(path.name for path in (scratch / "plain").iterdir()) == ["curves"]


def test_smooth_two_sided_and_causal() -> None:
    y = [0.0, 0.0, 3.0, 0.0, 0.0]
    np.testing.assert_allclose(plot_util.smooth(y, radius=1), [0, 1, 1, 1, 0])
    # baselines' causal window holds `radius` points, the last one included (its radius 1 returned an empty array)
    np.testing.assert_allclose(plot_util.smooth(y, radius=2, mode="causal"), [0, 0, 1.5, 1.5, 0])
    np.testing.assert_allclose(plot_util.smooth(y, radius=1, mode="causal"), y)
    np.testing.assert_allclose(plot_util.smooth(y, radius=10), [0.6] * 5)  # shorter than 2 radius + 1: the mean
    np.testing.assert_allclose(plot_util.smooth(y + [6.0], radius=3), [1.5] * 6)
    np.testing.assert_allclose(plot_util.smooth(y, radius=0), y)
    with pytest.raises(ValueError, match="mode must be"):
        plot_util.smooth(y, 1, mode="centered")
    with pytest.raises(ValueError, match="radius must be >= 0"):
        plot_util.smooth(y, -1)


def test_load_results_reads_logger_progress_csv(tmp_path: Path) -> None:
    run_dir = tmp_path / "ppo2-Pong-seed0"
    with logger.scoped_configure(str(run_dir), ["csv"]):
        for update in range(1, 6):
            logger.logkv("misc/total_timesteps", 128 * update)
            logger.logkv("eprewmean", float(update))
            logger.dumpkvs()
        logger.logkv("eval_eprewmean", 9.0)  # a dump without the plotted keys (rows of NaN for them)
        logger.dumpkvs()
    [result] = plot_util.load_results(str(tmp_path))
    assert result.dirname == str(run_dir) and result.monitor is None and result.metadata == {}
    assert list(result.progress["eprewmean"][:5]) == [1.0, 2.0, 3.0, 4.0, 5.0]
    x, y = plot_util.make_xy_fn("timesteps", smooth_radius=1)(result)
    np.testing.assert_allclose(x, [128, 256, 384, 512, 640])
    np.testing.assert_allclose(y, [1.5, 2, 3, 4, 4.5])
    assert plot_util.default_group_fn(result) == "ppo2-Pong"


def test_load_results_reads_monitor_files_and_their_env_id(runs: Path) -> None:
    results = plot_util.load_results([runs / "rising-seed0", runs / "rising-seed1", runs])  # duplicates once
    assert [Path(result.dirname).name for result in results] == ["rising-seed0", "rising-seed1", "flat-seed0",
                                                                 "flat-seed1"]
    assert results[0].metadata == {"env_id": "CartPole-v1", "t_start": 1000.0}
    assert len(results[0].monitor) == 2 * EPISODES  # both envs' files
    x, _y = plot_util.make_xy_fn("episodes", max_timesteps=1000)(results[0])
    np.testing.assert_array_equal(x, np.arange(1, 11))  # 10 episodes of 100 steps


@pytest.mark.parametrize("name, group", [
    ("ppo2-PongNoFrameskip-v4-seed3", "ppo2-PongNoFrameskip-v4"),
    ("ppo2-Pong_seed3", "ppo2-Pong"),
    ("ppo2-Pong-s3", "ppo2-Pong"),
    ("ppo2-Pong_3", "ppo2-Pong"),
    ("ppo2-CartPole-v1-20240101-120000", "ppo2-CartPole-v1"),  # run.py's default folder
    ("ppo2-Pong/seed3", "ppo2-Pong"),  # a folder named only for its seed counts as its parent
    ("baseline", "baseline"),
])
def test_run_name_strips_seed_suffixes(name: str, group: str) -> None:
    assert plot_util.run_name(f"/runs/{name}") == group


def test_run_name_of_an_eval_folder_inside_a_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "deepq-Pong-seed1"
    write_monitor(run_dir / "0.0", np.zeros(3), t_start=0.0)
    write_monitor(run_dir / "eval" / "0.0", np.zeros(3), t_start=0.0)
    assert plot_util.run_name(str(run_dir / "eval")) == "deepq-Pong/eval"


def test_average_curves_on_the_common_x_range() -> None:
    rising = (np.array([0.0, 10.0]), np.array([0.0, 10.0]))
    shifted = (np.array([5.0, 20.0]), np.array([7.0, 22.0]))  # y = x + 2
    grid, mean, std = plot_util.average_curves([rising, shifted], points=6)
    np.testing.assert_allclose(grid, [5, 6, 7, 8, 9, 10])
    np.testing.assert_allclose(mean, grid + 1)
    np.testing.assert_allclose(std, np.full(6, np.sqrt(2)))  # sample std of {x, x + 2}
    with pytest.raises(ValueError, match="do not overlap"):
        plot_util.average_curves([rising, (np.array([11.0, 12.0]), np.array([0.0, 0.0]))])


def test_plot_results_groups_by_group_fn(runs: Path) -> None:
    results = plot_util.load_results(runs)
    _figure, axes = plot_util.plot_results(results)
    assert axes.shape == (1, 1) and axes[0, 0].get_title() == "CartPole-v1"
    assert axes[0, 0].get_legend_handles_labels()[1] == ["flat (2 runs)", "rising (2 runs)"]
    _figure, axes = plot_util.plot_results(results, group_fn=lambda result: "all", average_group=False)
    assert axes[0, 0].get_legend_handles_labels()[1] == ["all"]
    assert len(axes[0, 0].get_lines()) == 4  # one line per run


def test_plot_results_takes_what_baselines_plot_results_took(runs: Path) -> None:
    """split_fn/group_fn None (one panel, one group), resample=0 (512 points), an xy_fn of pandas Series or with
    x=None (the points' indices), Result built with keywords only, and a run's metadata.json."""
    results = plot_util.load_results(runs)

    def series_xy(result: plot_util.Result) -> Any:
        return None, result.monitor["r"]  # a pandas Series and no x

    _figure, axes = plot_util.plot_results(results, xy_fn=series_xy, split_fn=None, group_fn=None, resample=0)
    (line,) = axes[0, 0].get_lines()
    assert len(line.get_xdata()) == 512 and line.get_xdata()[0] == 0.0
    assert plot_util.Result(dirname="x").monitor is None

    (runs / "flat-seed0" / "metadata.json").write_text('{"algo": "ppo2"}')
    try:
        flat = next(r for r in plot_util.load_results(runs) if r.dirname.endswith("flat-seed0"))
    finally:
        (runs / "flat-seed0" / "metadata.json").unlink()
    assert flat.metadata == {"env_id": "CartPole-v1", "t_start": 1000.0, "algo": "ppo2"}


def test_logger_output_formats_are_kv_writers(tmp_path: Path) -> None:
    fmt = logger.make_output_format("csv", str(tmp_path))
    try:
        assert isinstance(fmt, logger.KVWriter)  # baselines' scripts test this
    finally:
        fmt.close()
    assert not isinstance(object(), logger.KVWriter)
