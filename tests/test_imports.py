"""Every module imports, and the environment side never pulls in TensorFlow."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import baselines_tf2

ENV_SIDE = (
    "baselines_tf2",
    "baselines_tf2.common.atari_wrappers",
    "baselines_tf2.common.vec_env",
    "baselines_tf2.common.cmd_util",
    "baselines_tf2.bench",
    "baselines_tf2.logger",
)
TF_FREE = (  # tools and env-side helpers that must start without TensorFlow too
    "baselines_tf2.common.mpi_adam",
    "baselines_tf2.common.mpi_moments",
    "baselines_tf2.common.mpi_running_mean_std",
    "baselines_tf2.common.resumable_env",
    "baselines_tf2.common.video",
    "baselines_tf2.algorithms",
    "baselines_tf2.training.agent",
    "baselines_tf2.training.callbacks",
    "baselines_tf2.training.checkpoint",
    "baselines_tf2.training.checkpoint_dir",
    "baselines_tf2.training.config",
    "baselines_tf2.training.evaluation",
    "baselines_tf2.training.nonfinite",
    "baselines_tf2.training.progress",
    "baselines_tf2.training.run",
    "baselines_tf2.training.stop_signals",
    "baselines_tf2.on_policy.runner",
    "baselines_tf2.common.plot_util",
    "baselines_tf2.results_plotter",
    "baselines_tf2.common.mpi_util",
    "baselines_tf2.common.wrappers",
    "baselines_tf2.off_policy.replay",
    "baselines_tf2.off_policy.loop",
    "baselines_tf2.off_policy.config",
    "baselines_tf2.ddpg.noise",
    "baselines_tf2.ddpg.memory",
)


def all_module_names() -> list[str]:
    prefix = baselines_tf2.__name__ + "."
    return [info.name for info in pkgutil.walk_packages(baselines_tf2.__path__, prefix)]


def test_package_has_the_baselines_module_paths() -> None:
    names = set(all_module_names())
    for expected in ENV_SIDE[1:]:
        assert expected in names


@pytest.mark.parametrize("name", all_module_names())
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_env_side_modules_do_not_import_tensorflow() -> None:
    probe = (
        "import importlib, sys\n"
        f"for name in {ENV_SIDE + TF_FREE!r}: importlib.import_module(name)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'torch'))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
