"""The experiment examples run end to end in --smoke mode, write their run folders and draw their figures."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from cli_helpers import REPO, Finished, run_concurrently, run_one

from baselines_tf2.training.checkpoint import read_metadata

EXAMPLES = REPO / "examples"
TIMEOUT_S = 240  # one smoke run takes well under a minute alone; several share the cores here
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# name -> the optional package (importable module, pip name) it needs, or None
OPTIONAL = {"flappy_bird_dqn": ("flappy_bird_gymnasium", "flappy-bird-gymnasium"), "tune": ("optuna", "optuna")}


def installed(name: str) -> bool:
    """Whether the example's optional package (if any) can be imported here."""
    return name not in OPTIONAL or importlib.util.find_spec(OPTIONAL[name][0]) is not None


def smoke_command(name: str, out: Path) -> list[str]:
    """The command line of the example's smoke run, writing into `out`."""
    return [sys.executable, str(EXAMPLES / f"{name}.py"), "--smoke", "--out", str(out)]


def skip_unless_installed(name: str) -> None:
    """Skip the test, naming the pip command, when the example's optional package is missing."""
    if not installed(name):
        module, package = OPTIONAL[name]
        pytest.skip(f"{module} is not importable; pip install {package} to run the {name} example")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Finished]]:
    """The fast examples' smoke runs, concurrently (each pays TensorFlow's start-up); their output root."""
    root = tmp_path_factory.mktemp("examples")
    names = [name for name in ("cartpole_seeds", "flappy_bird_dqn", "tune") if installed(name)]
    return root, run_concurrently({name: smoke_command(name, root / name) for name in names}, root, TIMEOUT_S)


def assert_succeeded(finished: Finished) -> None:
    """Exit status 0, or fail showing the example's output."""
    output = f"stdout:\n{finished.stdout}\nstderr:\n{finished.stderr}"
    assert finished.returncode == 0, f"exit {finished.returncode}\n{output}"


def assert_figure(png: Path) -> None:
    """`png` is a PNG that decodes, with coloured pixels (curves or bands, not just axes and text) in it."""
    from matplotlib import image

    assert png.is_file(), f"no figure at {png}"
    assert png.read_bytes()[:8] == PNG_SIGNATURE, f"{png} is not a PNG"
    pixels = image.imread(png)[..., :3]
    coloured = (pixels.max(axis=-1) - pixels.min(axis=-1)) > 0.25  # axes, grid and text are gray levels
    assert coloured.sum() > 500, f"{png} has almost nothing drawn ({coloured.sum()} coloured pixels)"


def test_cartpole_seeds_smoke_logs_every_seed_and_draws_both_envs(smoke: tuple[Path, dict[str, Finished]]) -> None:
    root, finished = smoke
    assert_succeeded(finished["cartpole_seeds"])
    out = root / "cartpole_seeds"
    for env_id in ("CartPole-v1", "FrozenLake-v1"):
        for run in ("ppo2-seed0", "ppo2-seed1", "deepq-seed0", "deepq-seed1"):
            assert list((out / env_id / run).glob("*monitor.csv")), f"no Monitor file in {out / env_id / run}"
            assert (out / env_id / run / "progress.csv").is_file()
    assert_figure(out / "cartpole_seeds.png")
    summary = finished["cartpole_seeds"].stdout
    assert "CartPole-v1    ppo2" in summary and "FrozenLake-v1  deepq" in summary, summary


def test_flappy_bird_smoke_saves_a_checkpoint_naming_the_registered_network(
    smoke: tuple[Path, dict[str, Finished]],
) -> None:
    skip_unless_installed("flappy_bird_dqn")
    root, finished = smoke
    assert_succeeded(finished["flappy_bird_dqn"])
    out = root / "flappy_bird_dqn"
    assert_figure(out / "flappy_bird_dqn.png")
    metadata = read_metadata(str(out / "model"))
    assert metadata["network"] == "flappy_cs231n"
    assert metadata["observation_space"]["shape"] == [64, 64, 4]
    monitor = (out / "dqn-seed0" / "0.0.monitor.csv").read_text().splitlines()
    assert monitor[1] == "r,l,t,score" and len(monitor) > 2, monitor[:3]


def test_tune_smoke_prints_and_writes_the_best_parameters(smoke: tuple[Path, dict[str, Finished]]) -> None:
    skip_unless_installed("tune")
    root, finished = smoke
    assert_succeeded(finished["tune"])
    out = root / "tune"
    best = json.loads((out / "best_params.json").read_text())
    assert best["env"] == "CartPole-v1" and {"lr", "nsteps", "gamma"} <= set(best["params"])
    assert "best: trial" in finished["tune"].stdout
    assert_figure(out / "tune.png")


@pytest.mark.parametrize("name", sorted(OPTIONAL))
def test_missing_optional_package_exits_with_the_pip_command(name: str, tmp_path: Path) -> None:
    module, package = OPTIONAL[name]
    hide_and_run = (  # a None entry in sys.modules makes `import module` raise ImportError
        f"import runpy, sys; sys.modules[{module!r}] = None; sys.path.insert(0, {str(EXAMPLES)!r}); "
        f"sys.argv = [{str(EXAMPLES / f'{name}.py')!r}, '--smoke', '--out', {str(tmp_path)!r}]; "
        f"runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    finished = run_one([sys.executable, "-c", hide_and_run], tmp_path, TIMEOUT_S)
    assert finished.returncode == 1, finished
    assert f"pip install {package}" in finished.stderr, finished.stderr


@pytest.mark.slow
def test_pong_framestack_ablation_smoke_trains_both_variants(tmp_path: Path) -> None:
    finished = run_one(smoke_command("pong_framestack_ablation", tmp_path), tmp_path, TIMEOUT_S)
    assert_succeeded(finished)
    assert "framestack-seed0: observations (84, 84, 4)" in finished.stdout
    assert "no-framestack-seed0: observations (84, 84, 1)" in finished.stdout
    for run in ("framestack-seed0", "no-framestack-seed0"):
        assert len((tmp_path / run / "0.0.monitor.csv").read_text().splitlines()) > 3, f"{run}: too few games"
    assert_figure(tmp_path / "pong_framestack_ablation.png")
