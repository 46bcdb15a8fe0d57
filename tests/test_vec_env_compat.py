"""Porting surface of the VecEnvs (issue 18): old-API envs recognised by behaviour whatever their base class,
ale-py ids resolvable without ceremony, baselines' SubprocVecEnv signature, MPI variables kept from workers,
and a clear error for a script read from standard input."""

from __future__ import annotations

import functools
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.vec_env.compat import GymApiAdapter, OldGymApiWarning, ensure_gymnasium_api
from baselines_tf2.common.vec_env.dummy_vec_env import DummyVecEnv, as_vec_env
from baselines_tf2.common.vec_env.shmem_vec_env import ShmemVecEnv
from baselines_tf2.common.vec_env.subproc_vec_env import SubprocVecEnv
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED, clear_mpi_env_vars

VENVS = {"dummy": DummyVecEnv, "subproc": SubprocVecEnv, "shmem": ShmemVecEnv}
EPISODE_LENGTH = 3
OLD_ENV_ID = "OldApiUnderGymnasium-v0"
ignore_old_api_warning = pytest.mark.filterwarnings("ignore::baselines_tf2.common.vec_env.compat.OldGymApiWarning")


class OldApiEnv(gymnasium.Env):
    """The old gym API on gymnasium.Env, as a gym env is after `import gymnasium as gym`: seed(), obs-only reset,
    4-value step. Obs is [offset drawn from the seed, step]; episodes end after EPISODE_LENGTH steps, reported as
    gym's TimeLimit did (info['TimeLimit.truncated']) when `time_limited`."""

    def __init__(self, time_limited: bool = False) -> None:
        self.observation_space = gymnasium.spaces.Box(0, 255, (2,), np.uint8)
        self.action_space = gymnasium.spaces.Discrete(2)
        self.time_limited = time_limited
        self.rng = np.random.default_rng()
        self.offset = self.t = 0
        self.difficulty = 0

    def seed(self, seed: int | None = None) -> list[int | None]:
        self.rng = np.random.default_rng(seed)
        return [seed]

    def reset(self) -> np.ndarray:
        self.offset, self.t = int(self.rng.integers(0, 100)), 0
        return self._obs()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, dict[str, Any]]:
        self.t += 1
        done = self.t >= EPISODE_LENGTH
        info: dict[str, Any] = {}
        if done and self.time_limited:
            info[TRUNCATED] = True
        return self._obs(), float(action), done, info

    def _obs(self) -> np.ndarray:
        return np.array([self.offset, self.t], dtype=np.uint8)


class HalfPortedEnv(OldApiEnv):
    """gymnasium's reset signature, old return values: only what the calls return can tell."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> np.ndarray:
        if seed is not None:
            self.seed(seed)
        return super().reset()


class OldStyleWrapper(gymnasium.Wrapper):
    """An old gym wrapper after the rename: reset(**kwargs) only forwards, step passes the 4-tuple through."""

    def reset(self, **kwargs: Any) -> Any:
        return self.env.reset(**kwargs)

    def step(self, action: int) -> Any:
        return self.env.step(action)


class MpiVariablesEnv(OldApiEnv):
    """Records which MPI launcher variables its process was started with."""

    def __init__(self) -> None:
        super().__init__()
        self.mpi_variables = sorted(name for name in os.environ if name.startswith(("OMPI_", "PMI_", "PMIX_")))


def make_registered_old_env() -> gymnasium.Env:
    """A module-level factory, so workers import this module (and its gymnasium.register) to unpickle it."""
    return gymnasium.make(OLD_ENV_ID)


def seeded_offset(seed: int) -> int:
    return int(np.random.default_rng(seed).integers(0, 100))


def run_python(argv: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120)


gymnasium.register(OLD_ENV_ID, entry_point=OldApiEnv, max_episode_steps=2)


@ignore_old_api_warning
@pytest.mark.parametrize("kind", VENVS)
def test_old_api_gymnasium_subclass_runs_seeded_with_truncation_mapped(kind: str) -> None:
    fns = [OldApiEnv, OldApiEnv, functools.partial(OldApiEnv, time_limited=True)]
    with VENVS[kind](fns) as venv:
        venv.seed(7)
        obs = venv.reset()
        np.testing.assert_array_equal(obs[:, 0], [seeded_offset(7), seeded_offset(8), seeded_offset(9)])
        for t in range(1, EPISODE_LENGTH + 1):
            obs, rewards, dones, infos = venv.step(np.array([1, 0, 1]))
            np.testing.assert_array_equal(rewards, [1.0, 0.0, 1.0])
            assert dones.tolist() == [t == EPISODE_LENGTH] * 3
    assert [info[TRUNCATED] for info in infos] == [False, False, True]
    for info, next_obs in zip(infos, obs):
        assert info[TERMINAL_OBSERVATION][1] == EPISODE_LENGTH and next_obs[1] == 0


@ignore_old_api_warning
@pytest.mark.parametrize("kind", VENVS)
def test_registered_old_api_env_keeps_gymnasium_make_wrappers(kind: str) -> None:
    with VENVS[kind]([make_registered_old_env] * 2) as venv:
        venv.seed(3)
        np.testing.assert_array_equal(venv.reset()[:, 0], [seeded_offset(3), seeded_offset(4)])
        venv.step(np.array([0, 1]))
        _, _, dones, infos = venv.step(np.array([0, 1]))  # max_episode_steps=2 cuts the episode
    assert dones.all() and all(info[TRUNCATED] for info in infos)
    env = ensure_gymnasium_api(gymnasium.make(OLD_ENV_ID))
    assert isinstance(env, gymnasium.wrappers.TimeLimit)  # the wrappers stay; the adapter went under them
    assert isinstance(env.unwrapped, OldApiEnv)


def test_old_api_found_from_return_values_with_a_warning() -> None:
    with pytest.warns(OldGymApiWarning, match=r"HalfPortedEnv uses the old gym API"):
        with DummyVecEnv([HalfPortedEnv, HalfPortedEnv]) as venv:
            venv.seed(5)
            np.testing.assert_array_equal(venv.reset()[:, 0], [seeded_offset(5), seeded_offset(6)])
            for _ in range(EPISODE_LENGTH):
                _, _, dones, infos = venv.step(np.array([1, 1]))
    assert dones.all() and infos[0][TERMINAL_OBSERVATION][1] == EPISODE_LENGTH
    assert not isinstance(venv.envs[0], GymApiAdapter)  # its signature looked new: it was not wrapped


@ignore_old_api_warning
def test_old_style_wrapper_stack_is_adapted_and_seeded_through_the_inner_seed() -> None:
    with DummyVecEnv([lambda: OldStyleWrapper(OldApiEnv())] * 2) as venv:
        assert isinstance(venv.envs[0], GymApiAdapter)
        venv.seed(11)
        np.testing.assert_array_equal(venv.reset()[:, 0], [seeded_offset(11), seeded_offset(12)])
        assert venv.step(np.array([1, 1]))[1].tolist() == [1.0, 1.0]


@ignore_old_api_warning
@pytest.mark.parametrize("kind", VENVS)
def test_attributes_and_methods_reach_the_adapted_env(kind: str) -> None:
    with VENVS[kind]([OldApiEnv, OldApiEnv]) as venv:
        venv.set_attr("difficulty", 4, indices=[1])
        assert venv.get_attr("difficulty") == [0, 4]
        assert venv.env_method("seed", 9) == [[9], [9]]


@ignore_old_api_warning
def test_single_old_api_env_given_to_learn_is_adapted() -> None:
    """ddpg, td3, sac and ppo1 put a single env in a VecEnv with this function; deepq's is the test below."""
    venv = as_vec_env(OldApiEnv())
    venv.seed(2)
    assert venv.reset()[0, 0] == seeded_offset(2)


@ignore_old_api_warning
def test_deepq_learns_from_a_single_old_api_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from baselines_tf2 import deepq

    monkeypatch.setenv("OPENAI_LOGDIR", str(tmp_path))
    act = deepq.learn(OldApiEnv(), network="mlp", total_timesteps=48, learning_starts=16, buffer_size=48,
                      print_freq=1000, seed=0, num_hidden=8, num_layers=1)
    assert act(np.zeros((1, 2), np.uint8)).shape == (1,)


@pytest.mark.parametrize("context", ["forkserver", "spawn"])
def test_atari_ids_resolve_in_workers(context: str) -> None:
    with SubprocVecEnv([functools.partial(gymnasium.make, "PongNoFrameskip-v4")], context=context) as venv:
        assert venv.reset().shape == (1, 210, 160, 3)


def test_importing_common_registers_atari_ids(tmp_path: Path) -> None:
    probe = "import gymnasium, baselines_tf2.common\ngymnasium.make('PongNoFrameskip-v4').close()\n"
    result = run_python(["-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_subproc_vec_env_takes_baselines_arguments() -> None:
    assert list(inspect.signature(SubprocVecEnv).parameters)[:4] == ["env_fns", "spaces", "context", "in_series"]
    spaces = (gymnasium.spaces.Box(0, 255, (2,), np.uint8), gymnasium.spaces.Discrete(2))
    with SubprocVecEnv([OldApiEnv] * 4, spaces, "spawn", 2) as venv:
        assert len(venv.processes) == 2 and venv.observation_space == spaces[0]
    with pytest.raises(ValueError, match=r"spaces= gives the action space Discrete\(3\), but env 0 has Discrete\(2\)"):
        SubprocVecEnv([OldApiEnv], (spaces[0], gymnasium.spaces.Discrete(3)))
    with pytest.raises(ValueError, match="'fork' is refused.*`if __name__ == '__main__':`"):
        SubprocVecEnv([OldApiEnv], context="fork")


def test_clear_mpi_env_vars_hides_launcher_variables_then_restores_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PMI_FD", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        monkeypatch.setenv(name, "7")
    with clear_mpi_env_vars():
        assert not [name for name in os.environ if name.startswith(("OMPI_", "PMI_", "PMIX_"))]
    assert os.environ["PMI_FD"] == os.environ["OMPI_COMM_WORLD_RANK"] == "7"
    # spawn starts each worker with the parent's current environment (a forkserver child gets the server's)
    with SubprocVecEnv([MpiVariablesEnv], context="spawn") as venv:
        assert venv.get_attr("mpi_variables") == [[]]
    assert os.environ["PMIX_RANK"] == "7"


STDIN_SCRIPT = textwrap.dedent(
    """
    import gymnasium
    from baselines_tf2.common.vec_env import SubprocVecEnv

    SubprocVecEnv([lambda: gymnasium.make("CartPole-v1")] * 2)
    """
)


def test_script_from_stdin_is_told_the_cause_and_the_fix(tmp_path: Path) -> None:
    result = run_python(["-"], tmp_path, stdin=STDIN_SCRIPT)
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("baselines_tf2.common.vec_env.vec_env.VecEnvError: cannot start env worker")
    assert "the main script '<stdin>' is not a file" in last_line and "from standard input" in last_line
    assert "run 'python script.py'" in last_line and "DummyVecEnv" in last_line
    assert "FileNotFoundError" not in result.stderr  # refused before any worker was started
