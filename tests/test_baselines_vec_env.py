"""baselines' common/vec_env/test_vec_env.py, ported: same envs, arguments and assertions, after renaming
`baselines` to `baselines_tf2` and `import gym` to `import gymnasium as gym`.

SimpleEnv stays written to the old gym API (reset() returns only the observation, step() returns 4 values)
while subclassing gymnasium.Env, which is what a user's env looks like after the rename; the VecEnvs must
recognise it by its behaviour. One assertion differs: baselines compared infos with `==`, but ours also carry
`terminal_observation` (an array) at episode ends, so infos are compared key by key. baselines' version with
ThreadedVecEnv is not ported: baselines_tf2 has no ThreadedVecEnv.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from test_mpi import MPIEXEC, requires_mpi

from baselines_tf2.common.vec_env.dummy_vec_env import DummyVecEnv
from baselines_tf2.common.vec_env.shmem_vec_env import ShmemVecEnv
from baselines_tf2.common.vec_env.subproc_vec_env import SubprocVecEnv
from baselines_tf2.common.vec_env.vec_env import VecEnv

pytestmark = pytest.mark.filterwarnings("ignore::baselines_tf2.common.vec_env.compat.OldGymApiWarning")

MPI_RANKS = 2
MPI_TIMEOUT_S = 120


def assert_infos_equal(infos1: Any, infos2: Any) -> None:
    """baselines' `list(infos1) == list(infos2)`, with array values (terminal observations) compared as arrays."""
    assert len(infos1) == len(infos2)
    for info1, info2 in zip(infos1, infos2):
        assert info1.keys() == info2.keys()
        for key in info1:
            assert np.array_equal(info1[key], info2[key]), key


def assert_venvs_equal(venv1: VecEnv, venv2: VecEnv, num_steps: int) -> None:
    """baselines' assert_venvs_equal: given the same actions, both VecEnvs give the same observations, rewards,
    dones and infos for num_steps steps; both are closed at the end."""
    assert venv1.num_envs == venv2.num_envs
    assert venv1.observation_space.shape == venv2.observation_space.shape
    assert venv1.observation_space.dtype == venv2.observation_space.dtype
    assert venv1.action_space.shape == venv2.action_space.shape
    assert venv1.action_space.dtype == venv2.action_space.dtype

    try:
        obs1, obs2 = venv1.reset(), venv2.reset()
        assert np.array(obs1).shape == np.array(obs2).shape
        assert np.array(obs1).shape == (venv1.num_envs,) + venv1.observation_space.shape
        assert np.allclose(obs1, obs2)
        venv1.action_space.seed(1337)
        for _ in range(num_steps):
            actions = np.array([venv1.action_space.sample() for _ in range(venv1.num_envs)])
            for venv in [venv1, venv2]:
                venv.step_async(actions)
            outs1 = venv1.step_wait()
            outs2 = venv2.step_wait()
            for out1, out2 in zip(outs1[:3], outs2[:3]):
                assert np.array(out1).shape == np.array(out2).shape
                assert np.allclose(out1, out2)
            assert_infos_equal(outs1[3], outs2[3])
    finally:
        venv1.close()
        venv2.close()


class SimpleEnv(gym.Env):
    """baselines' SimpleEnv: a fixed start observation drawn from `seed`, episodes of seed + 1 steps; old gym API."""

    def __init__(self, seed: int, shape: tuple[int, ...], dtype: str) -> None:
        np.random.seed(seed)
        self._dtype = dtype
        self._start_obs = np.array(np.random.randint(0, 0x100, size=shape), dtype=dtype)
        self._max_steps = seed + 1
        self._cur_obs: np.ndarray | None = None
        self._cur_step = 0
        # 0xFF, not 0x100: the Box includes its high end, randint excludes it
        self.action_space = gym.spaces.Box(low=0, high=0xFF, shape=shape, dtype=dtype)
        self.observation_space = self.action_space

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, dict[str, str]]:
        self._cur_obs += np.array(action, dtype=self._dtype)  # in place, as baselines' (it changes _start_obs too)
        self._cur_step += 1
        done = self._cur_step >= self._max_steps
        reward = self._cur_step / self._max_steps
        return self._cur_obs, reward, done, {"foo": "bar" + str(reward)}

    def reset(self) -> np.ndarray:
        self._cur_obs = self._start_obs
        self._cur_step = 0
        return self._cur_obs

    def render(self, mode: str | None = None) -> None:
        raise NotImplementedError


def simple_env_fns(num_envs: int, shape: tuple[int, ...], dtype: str) -> list[Any]:
    """baselines' make_fn(seed) for seeds 0..num_envs-1."""
    return [lambda seed=seed: SimpleEnv(seed, shape, dtype) for seed in range(num_envs)]


@pytest.mark.parametrize("klass", (ShmemVecEnv, SubprocVecEnv))
@pytest.mark.parametrize("dtype", ("uint8", "float32"))
def test_vec_env(klass: type[VecEnv], dtype: str) -> None:
    """baselines' test_vec_env: ShmemVecEnv and SubprocVecEnv are equivalent to DummyVecEnv."""
    fns = simple_env_fns(num_envs=3, shape=(3, 8), dtype=dtype)
    env1 = DummyVecEnv(fns)
    env2 = klass(fns)
    assert_venvs_equal(env1, env2, num_steps=100)


@pytest.mark.parametrize("dtype", ("uint8", "float32"))
@pytest.mark.parametrize("num_envs_in_series", (3, 4, 6))
def test_sync_sampling(dtype: str, num_envs_in_series: int) -> None:
    """baselines' test_sync_sampling: a SubprocVecEnv running envs in series gives what DummyVecEnv gives."""
    fns = simple_env_fns(num_envs=12, shape=(3, 8), dtype=dtype)
    env1 = DummyVecEnv(fns)
    env2 = SubprocVecEnv(fns, in_series=num_envs_in_series)
    assert_venvs_equal(env1, env2, num_steps=100)


@pytest.mark.parametrize("dtype", ("uint8", "float32"))
@pytest.mark.parametrize("num_envs_in_series", (3, 4, 6))
def test_sync_sampling_sanity(dtype: str, num_envs_in_series: int) -> None:
    """baselines' test_sync_sampling_sanity: envs in series give what one env per process gives."""
    fns = simple_env_fns(num_envs=12, shape=(3, 8), dtype=dtype)
    env1 = SubprocVecEnv(fns)
    env2 = SubprocVecEnv(fns, in_series=num_envs_in_series)
    assert_venvs_equal(env1, env2, num_steps=100)


MPI_SCRIPT = textwrap.dedent(
    """
    import sys

    from mpi4py import MPI  # at top level: every env worker re-running this script imports it too

    sys.path.insert(0, {tests_dir!r})
    from test_baselines_vec_env import SimpleEnv

    from baselines_tf2.common.vec_env.subproc_vec_env import SubprocVecEnv

    if __name__ == "__main__":
        shape = (2, 3, 4)
        nenv = 1
        venv = SubprocVecEnv([lambda: SimpleEnv(0, shape, "float32")] * nenv)
        ob = venv.reset()
        venv.close()
        assert ob.shape == (nenv,) + shape
        print("rank", MPI.COMM_WORLD.Get_rank(), "ok")
    """
)


def test_one_env_takes_a_bare_action_as_baselines_dummy_vec_env() -> None:
    """baselines' DummyVecEnv.step_async wrapped a bare action into a list when there is one env."""
    venv = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    venv.seed(0)
    venv.reset()
    obs, rewards, dones, _infos = venv.step(1)  # an int, not [1]
    assert obs.shape == (1, 4) and rewards.tolist() == [1.0] and dones.tolist() == [False]
    with pytest.raises(ValueError, match="got 3 actions for 1 envs"):
        DummyVecEnv([lambda: gym.make("Pendulum-v1")]).step(np.zeros((3, 1), np.float32))
    venv.close()


@requires_mpi
def test_mpi_with_subprocvecenv(tmp_path: Path) -> None:
    """baselines' test_mpi_with_subprocvecenv (run by its with_mpi() on 2 ranks): a SubprocVecEnv under mpiexec,
    from a script importing mpi4py at top level, starts workers that do not take themselves for MPI ranks."""
    pytest.importorskip("mpi4py")
    script = tmp_path / "mpi_subprocvecenv.py"
    script.write_text(MPI_SCRIPT.format(tests_dir=str(Path(__file__).parent)))
    result = subprocess.run(
        [str(MPIEXEC), "-n", str(MPI_RANKS), sys.executable, str(script)],
        cwd=tmp_path, capture_output=True, text=True, timeout=MPI_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert sorted(result.stdout.splitlines()) == [f"rank {rank} ok" for rank in range(MPI_RANKS)]
