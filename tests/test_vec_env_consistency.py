"""SubprocVecEnv and ShmemVecEnv give exactly what DummyVecEnv gives: observations, rewards, dones and infos."""

from __future__ import annotations

from typing import Any, Callable

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.atari_wrappers import make_atari, wrap_deepmind
from baselines_tf2.common.vec_env.dummy_vec_env import DummyVecEnv
from baselines_tf2.common.vec_env.shmem_vec_env import ShmemVecEnv
from baselines_tf2.common.vec_env.subproc_vec_env import SubprocVecEnv
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED, VecEnv

BREAKOUT = "BreakoutNoFrameskip-v4"
PONG = "PongNoFrameskip-v4"
NUM_ENVS = 4

PROCESS_VENVS: dict[str, Callable[[list[Callable[[], Any]]], VecEnv]] = {
    "subproc": lambda fns: SubprocVecEnv(fns),
    "shmem": lambda fns: ShmemVecEnv(fns),
    "subproc_in_series_2": lambda fns: SubprocVecEnv(fns, in_series=2),
}
ALL_VENVS = {"dummy": DummyVecEnv, **PROCESS_VENVS}
CANDIDATES = {**PROCESS_VENVS, "shmem_spawn_in_series_2": lambda fns: ShmemVecEnv(fns, context="spawn", in_series=2)}


class DictObsEnv(gymnasium.Env):
    """Dict observations: a random uint8 image drawn from the env's seeded RNG and a step counter.

    Action a advances the counter by a; the episode terminates once the counter reaches `length`.
    """

    def __init__(self, length: int = 3) -> None:
        self.length = length
        self.observation_space = gymnasium.spaces.Dict(
            {
                "image": gymnasium.spaces.Box(0, 255, (4, 4, 3), np.uint8),
                "count": gymnasium.spaces.Box(0.0, 100.0, (1,), np.float32),
            }
        )
        self.action_space = gymnasium.spaces.Discrete(3)
        self.count = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.count = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[dict, float, bool, bool, dict]:
        self.count += int(action)
        return self._obs(), float(action), self.count >= self.length, False, {"count": self.count}

    def describe(self, prefix: str) -> str:
        return f"{prefix}:{self.length}"

    def _obs(self) -> dict[str, np.ndarray]:
        image = self.np_random.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        return {"image": image, "count": np.array([self.count], dtype=np.float32)}


def atari_factory(env_id: str, **make_kwargs: Any) -> Callable[[], gymnasium.Env]:
    """The real preprocessing stack (life-loss episodes, LazyFrames stacking); a closure, so cloudpickle is needed."""

    def make() -> gymnasium.Env:
        return wrap_deepmind(make_atari(env_id, **make_kwargs), frame_stack=True)

    return make


def assert_same(expected: Any, got: Any, where: str) -> None:
    """Equal values, recursing into dicts; arrays (and LazyFrames) compared element-wise."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and expected.keys() == got.keys(), f"{where}: keys differ"
        for key in expected:
            assert_same(expected[key], got[key], f"{where}[{key!r}]")
    else:
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected), err_msg=where)


def run_lockstep(make_fns: Callable[[], list[Callable[[], Any]]], kind: str, actions: np.ndarray, seed: int) -> list:
    """Step DummyVecEnv and `kind` side by side, asserting equal results; returns the reference (done, info) pairs."""
    ends = []
    with DummyVecEnv(make_fns()) as reference, CANDIDATES[kind](make_fns()) as candidate:
        reference.seed(seed)
        candidate.seed(seed)
        assert_same(reference.reset(), candidate.reset(), "reset obs")
        for t, step_actions in enumerate(actions):
            expected, got = reference.step(step_actions), candidate.step(step_actions)
            for name, want, have in zip(("obs", "rewards", "dones"), expected[:3], got[:3]):
                assert_same(want, have, f"step {t} {name}")
            assert got[1].dtype == np.float32 and got[2].dtype == bool
            for env_index, (want_info, have_info) in enumerate(zip(expected[3], got[3])):
                assert_same(want_info, have_info, f"step {t} env {env_index} info")
            ends += [info for done, info in zip(expected[2], expected[3]) if done]
    return ends


@pytest.mark.parametrize("kind", PROCESS_VENVS)
def test_breakout_matches_dummy_through_life_losses(kind: str) -> None:
    actions = np.random.default_rng(1).integers(0, 4, size=(50, NUM_ENVS))
    ends = run_lockstep(lambda: [atari_factory(BREAKOUT)] * NUM_ENVS, kind, actions, seed=3)
    assert ends, "no episode ended: the comparison never covered terminal observations"
    assert all(info[TRUNCATED] is False for info in ends)
    assert all(np.asarray(info[TERMINAL_OBSERVATION]).shape == (84, 84, 4) for info in ends)


@pytest.mark.parametrize("kind", PROCESS_VENVS)
def test_pong_matches_dummy_through_time_limit_truncation(kind: str) -> None:
    actions = np.random.default_rng(2).integers(0, 6, size=(70, NUM_ENVS))
    # A Pong game lasts thousands of steps and has no lives, so every episode here ends at the 50-step limit.
    ends = run_lockstep(lambda: [atari_factory(PONG, max_episode_steps=50)] * NUM_ENVS, kind, actions, seed=5)
    assert len(ends) >= NUM_ENVS
    assert all(info[TRUNCATED] is True for info in ends)


@pytest.mark.parametrize("kind", CANDIDATES)
def test_dict_observations_from_lambda_factories_match_dummy(kind: str) -> None:
    make_fns = lambda: [lambda length=3 + i % 2: DictObsEnv(length) for i in range(NUM_ENVS)]  # noqa: E731
    actions = np.random.default_rng(3).integers(0, 3, size=(12, NUM_ENVS))
    ends = run_lockstep(make_fns, kind, actions, seed=11)
    assert ends and all(set(info[TERMINAL_OBSERVATION]) == {"image", "count"} for info in ends)


@pytest.mark.parametrize("kind", ALL_VENVS)
def test_time_limit_sets_truncated_and_game_end_does_not(kind: str) -> None:
    """Envs 0-1 balance CartPole by alternating pushes until the 20-step limit; envs 2-3 push right and fall."""
    fns = [lambda: gymnasium.make("CartPole-v1", max_episode_steps=20)] * NUM_ENVS
    with ALL_VENVS[kind](fns) as venv:
        venv.seed(0)
        venv.reset()
        first_end: dict[int, tuple[int, dict, np.ndarray]] = {}
        for t in range(20):
            obs, _, dones, infos = venv.step(np.array([t % 2, (t + 1) % 2, 1, 1]))
            for i in np.flatnonzero(dones):
                first_end.setdefault(int(i), (t, infos[i], obs[i]))
    assert sorted(first_end) == [0, 1, 2, 3]
    for i in (0, 1):
        t, info, next_obs = first_end[i]
        assert t == 19 and info[TRUNCATED] is True
        assert not np.array_equal(info[TERMINAL_OBSERVATION], next_obs), "obs after done must be the reset obs"
    for i in (2, 3):
        t, info, _ = first_end[i]
        assert t < 19 and info[TRUNCATED] is False
        assert abs(info[TERMINAL_OBSERVATION][2]) > 0.2  # pole angle past the 12-degree limit: a real ending


@pytest.mark.parametrize("kind", PROCESS_VENVS)
def test_env_method_get_attr_and_set_attr_reach_the_envs(kind: str) -> None:
    with PROCESS_VENVS[kind]([DictObsEnv] * NUM_ENVS) as venv:
        venv.set_attr("length", 7, indices=[1, 2])
        assert venv.get_attr("length") == [3, 7, 7, 3]
        assert venv.get_attr("length", indices=[2, 0]) == [7, 3]
        assert venv.env_method("describe", "env", indices=[3, 1]) == ["env:3", "env:7"]


@pytest.mark.parametrize("kind", PROCESS_VENVS)
def test_rendered_frames_match_dummy(kind: str) -> None:
    fns = [atari_factory(BREAKOUT, render_mode="rgb_array")] * 2
    with DummyVecEnv(fns) as reference, PROCESS_VENVS[kind](fns) as candidate:
        reference.seed(0)
        candidate.seed(0)
        reference.reset()
        candidate.reset()
        expected, got = reference.get_images(), candidate.get_images()
        assert len(got) == 2 and got[0].shape == (210, 160, 3)
        assert_same(expected, got, "frames")
        # baselines' tile_images: ceil(sqrt(2)) = 2 rows of 1
        assert candidate.render(mode="rgb_array").shape == (420, 160, 3)


def test_shmem_returns_copies_that_later_steps_do_not_overwrite() -> None:
    with ShmemVecEnv([DictObsEnv] * 2) as venv:
        venv.seed(0)
        first = venv.reset()
        kept = {key: value.copy() for key, value in first.items()}
        venv.step(np.array([1, 1]))
        assert_same(kept, first, "first batch after a step")
