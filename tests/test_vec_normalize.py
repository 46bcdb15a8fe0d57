"""VecNormalize: hand-checked running statistics, return-based reward scaling, clipping, and safe save/load."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from baselines_tf2.common.vec_env.dummy_vec_env import DummyVecEnv
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION
from baselines_tf2.common.vec_env.vec_normalize import VecNormalize

RMS_EPSILON = 1e-4  # RunningMeanStd's default pseudo-count of its (mean 0, var 1) starting estimate


class LinearEnv(gymnasium.Env):
    """At step t of an episode: obs (t, -2t, ...) of `size` entries, reward `scale * t`; ends after `length` steps."""

    def __init__(self, length: int, size: int = 2, scale: float = 1.0) -> None:
        self.length, self.size, self.scale = length, size, scale
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self.action_space = gymnasium.spaces.Discrete(2)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return (self.t * np.array([1.0, -2.0, 3.0][: self.size] + [0.5] * (self.size - 3))).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return self._obs(), self.scale * self.t, self.t == self.length, False, {}


def linear_venv(size: int = 2, scale: float = 1.0) -> DummyVecEnv:
    """Env 0 ends every 2 steps, env 1 every 3 steps."""
    return DummyVecEnv([lambda: LinearEnv(2, size, scale), lambda: LinearEnv(3, size, scale)])


def zeros_action(venv: VecNormalize) -> np.ndarray:
    return np.zeros(venv.num_envs, dtype=np.int64)


def moments_with_prior(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of `samples` pooled with the prior: weight 1e-4 at mean 0 with variance 1."""
    count = len(samples) + RMS_EPSILON
    mean = samples.sum(axis=0) / count
    sum_sq_dev = ((samples - mean) ** 2).sum(axis=0) + RMS_EPSILON * (1.0 + mean**2)
    return mean, sum_sq_dev / count


def test_observation_statistics_and_normalised_obs_match_hand_computation() -> None:
    venv = VecNormalize(linear_venv(), ret=False)
    normalised = venv.reset()
    seen = [venv.get_original_obs()]
    for _ in range(3):
        normalised, _rewards, _dones, _infos = venv.step(zeros_action(venv))
        seen.append(venv.get_original_obs())
    # First obs entry per batch (reset, steps 1-3): env 0 goes 0, 1, then ends and restarts at 0, then 1;
    # env 1 goes 0, 1, 2, then ends at step 3 and restarts at 0.
    raw = np.concatenate(seen)
    np.testing.assert_array_equal(raw[:, 0], [0, 0, 1, 1, 0, 2, 1, 0])
    mean, var = moments_with_prior(raw.astype(np.float64))
    np.testing.assert_allclose(venv.ob_rms.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(venv.ob_rms.var, var, rtol=1e-10)
    expected = np.clip((seen[-1] - mean) / np.sqrt(var + 1e-8), -10.0, 10.0)
    assert normalised.dtype == np.float32
    np.testing.assert_allclose(normalised, expected, rtol=1e-6)
    assert venv.observation_space == gymnasium.spaces.Box(-10.0, 10.0, (2,), np.float32)


def test_rewards_are_divided_by_the_std_of_the_discounted_return_which_restarts_at_episode_end() -> None:
    venv = VecNormalize(linear_venv(), ob=False, gamma=0.5, cliprew=1000.0)
    venv.reset()
    # Rewards are t per env; returns R <- 0.5 R + r, set to 0 after a done:
    # step 1: R = (1, 1); step 2: (2.5, 2.5), env 0 done; step 3: (1, 0.5 * 2.5 + 3 = 4.25), env 1 done.
    returns_by_step = [[1.0, 1.0], [2.5, 2.5], [1.0, 4.25]]
    rewards_by_step = [[1.0, 1.0], [2.0, 2.0], [1.0, 3.0]]
    for step in range(3):
        _obs, rewards, _dones, _infos = venv.step(zeros_action(venv))
        _mean, var = moments_with_prior(np.array(returns_by_step[: step + 1]).reshape(-1))
        np.testing.assert_allclose(venv.ret_rms.var, var, rtol=1e-10)
        np.testing.assert_allclose(rewards, np.array(rewards_by_step[step]) / np.sqrt(var + 1e-8), rtol=1e-6)
        np.testing.assert_array_equal(venv.get_original_reward(), rewards_by_step[step])
    np.testing.assert_array_equal(venv.returns, [1.0, 0.0])


def test_observations_and_rewards_are_clipped() -> None:
    clipped = VecNormalize(linear_venv(scale=1000.0), clipob=0.5, cliprew=0.1)
    unclipped = VecNormalize(linear_venv(scale=1000.0), clipob=1e9, cliprew=1e9)
    clipped.reset(), unclipped.reset()
    for _ in range(3):
        obs, rewards, _dones, _infos = clipped.step(zeros_action(clipped))
        free_obs, free_rewards, _dones, _infos = unclipped.step(zeros_action(unclipped))
        assert np.any(np.abs(free_obs) > 0.5) and np.any(np.abs(free_rewards) > 0.1)  # clipping has work to do
        np.testing.assert_array_equal(obs, np.clip(free_obs, -0.5, 0.5))
        np.testing.assert_array_equal(rewards, np.clip(free_rewards, -0.1, 0.1))


def test_terminal_observation_is_normalised_with_the_same_statistics() -> None:
    venv = VecNormalize(linear_venv())
    venv.reset()
    venv.step(zeros_action(venv))
    obs, _rewards, dones, infos = venv.step(zeros_action(venv))
    assert dones.tolist() == [True, False]
    # Env 0's terminal obs is (2, -4): the env has already been reset to (0, 0).
    np.testing.assert_array_equal(venv.get_original_obs()[0], [0.0, 0.0])
    expected = np.clip((np.array([2.0, -4.0]) - venv.ob_rms.mean) / np.sqrt(venv.ob_rms.var + 1e-8), -10, 10)
    np.testing.assert_allclose(infos[0][TERMINAL_OBSERVATION], expected, rtol=1e-6)
    np.testing.assert_array_equal(venv.normalize_obs(np.array([2.0, -4.0])), infos[0][TERMINAL_OBSERVATION])


def test_training_false_freezes_the_statistics() -> None:
    venv = VecNormalize(linear_venv())
    venv.reset()
    venv.step(zeros_action(venv))
    venv.training = False
    frozen_ob, frozen_ret = venv.ob_rms.state_dict(), venv.ret_rms.state_dict()
    for _ in range(4):
        obs, _rewards, _dones, _infos = venv.step(zeros_action(venv))
    np.testing.assert_array_equal(venv.ob_rms.mean, frozen_ob["mean"])
    assert venv.ob_rms.count == frozen_ob["count"] and venv.ret_rms.count == frozen_ret["count"]
    expected = (venv.get_original_obs() - frozen_ob["mean"]) / np.sqrt(frozen_ob["var"] + 1e-8)
    np.testing.assert_allclose(obs, expected, rtol=1e-6)


def test_disabled_parts_pass_values_through() -> None:
    venv = VecNormalize(linear_venv(), ob=False, ret=False)
    assert venv.ob_rms is None and venv.ret_rms is None
    venv.reset()
    venv.step(zeros_action(venv))
    obs, rewards, _dones, _infos = venv.step(zeros_action(venv))
    np.testing.assert_array_equal(obs[:, 0], [0.0, 2.0])
    np.testing.assert_array_equal(rewards, [2.0, 2.0])
    assert venv.observation_space == venv.venv.observation_space


def trained_normalizer(**kwargs: Any) -> VecNormalize:
    venv = VecNormalize(linear_venv(), **kwargs)
    venv.reset()
    for _ in range(5):
        venv.step(zeros_action(venv))
    return venv


def run_frozen(venv: VecNormalize) -> list[np.ndarray]:
    """Normalised obs and rewards of a reset and four steps, with statistics frozen."""
    venv.training = False
    outputs = [venv.reset()]
    for _ in range(4):
        obs, rewards, _dones, _infos = venv.step(zeros_action(venv))
        outputs += [obs, rewards]
    return outputs


def test_save_then_load_gives_identical_normalisation(tmp_path: Path) -> None:
    original = trained_normalizer(clipob=5.0, cliprew=3.0, gamma=0.9)
    path = tmp_path / "vec_normalize.json"
    original.save(path)
    assert os.listdir(tmp_path) == ["vec_normalize.json"]  # no temporary file left behind
    document = json.loads(path.read_text())
    assert document["format_version"] == 1 and document["obs_shape"] == [2]
    loaded = VecNormalize.load(path, linear_venv())
    assert (loaded.clipob, loaded.cliprew, loaded.gamma) == (5.0, 3.0, 0.9)
    assert loaded.training
    for ours, theirs in zip(run_frozen(original), run_frozen(loaded)):
        np.testing.assert_array_equal(ours, theirs)


def test_load_state_replaces_statistics_of_an_existing_wrapper(tmp_path: Path) -> None:
    original = trained_normalizer()
    original.save(tmp_path / "stats.json")
    target = VecNormalize(linear_venv())
    target.load_state(tmp_path / "stats.json")
    for name in ("mean", "var", "count"):
        np.testing.assert_array_equal(target.ob_rms.state_dict()[name], original.ob_rms.state_dict()[name])
        np.testing.assert_array_equal(target.ret_rms.state_dict()[name], original.ret_rms.state_dict()[name])


def edit_saved(document: dict[str, Any], edit: str) -> str:
    """Text of a saved statistics file after one kind of corruption."""
    if edit == "truncated":
        return json.dumps(document)[:40]
    if edit == "not_an_object":
        return "[1, 2, 3]"
    if edit == "wrong_format":
        document["format"] = "something else"
    elif edit == "future_version":
        document["format_version"] = 2
    elif edit == "missing_count":
        del document["ob_rms"]["count"]
    elif edit == "short_mean":
        document["ob_rms"]["mean"] = [0.0]
    elif edit == "negative_var":
        document["ret_rms"]["var"] = -1.0
    elif edit == "string_clip":
        document["config"]["clipob"] = "10"
    elif edit == "ob_rms_null":
        document["ob_rms"] = None
    return json.dumps(document)


@pytest.mark.parametrize(
    "edit, message",
    [
        ("truncated", "not UTF-8 JSON"),
        ("not_an_object", "not a VecNormalize statistics file"),
        ("wrong_format", "not a VecNormalize statistics file"),
        ("future_version", "format version 2"),
        ("missing_count", "count"),
        ("short_mean", "shape"),
        ("negative_var", "negative"),
        ("string_clip", "clipob"),
        ("ob_rms_null", "ob_rms"),
    ],
)
def test_corrupt_files_raise_a_clear_value_error_and_change_nothing(tmp_path: Path, edit: str, message: str) -> None:
    trained_normalizer().save(tmp_path / "stats.json")
    document = json.loads((tmp_path / "stats.json").read_text())
    (tmp_path / "stats.json").write_text(edit_saved(document, edit))
    target = VecNormalize(linear_venv())
    before = target.ob_rms.state_dict()
    with pytest.raises(ValueError, match=message):
        target.load_state(tmp_path / "stats.json")
    with pytest.raises(ValueError, match=message):
        VecNormalize.load(tmp_path / "stats.json", linear_venv())
    np.testing.assert_array_equal(target.ob_rms.mean, before["mean"])
    assert target.ob_rms.count == before["count"]


def test_statistics_for_another_observation_shape_are_rejected(tmp_path: Path) -> None:
    trained_normalizer().save(tmp_path / "stats.json")
    with pytest.raises(ValueError, match=r"shape \[2\].*shape \(3,\)"):
        VecNormalize.load(tmp_path / "stats.json", linear_venv(size=3))


def test_mismatched_ob_ret_flags_are_rejected(tmp_path: Path) -> None:
    trained_normalizer(ret=False).save(tmp_path / "stats.json")
    with pytest.raises(ValueError, match="ret=False"):
        VecNormalize(linear_venv()).load_state(tmp_path / "stats.json")


class TouchOnUnpickle:
    """Unpickling this object creates the file `marker`: proof that someone unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return Path.touch, (self.marker,)


@pytest.mark.parametrize("container", ["pickle", "npy_object_array"])
def test_pickle_files_are_rejected_without_being_unpickled(tmp_path: Path, container: str) -> None:
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(TouchOnUnpickle(marker))
    pickle.loads(payload)  # the payload works: unpickling it does create the marker
    assert marker.exists()
    marker.unlink()
    path = tmp_path / "stats.json"
    if container == "pickle":
        path.write_bytes(payload)
    else:
        with open(path, "wb") as handle:
            np.save(handle, np.array([TouchOnUnpickle(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a VecNormalize statistics file"):
        VecNormalize.load(path, linear_venv())
    with pytest.raises(ValueError, match="not a VecNormalize statistics file"):
        VecNormalize(linear_venv()).load_state(path)
    assert not marker.exists()


def test_failed_saves_leave_the_previous_file_and_no_temporary_files(tmp_path: Path) -> None:
    venv = trained_normalizer()
    venv.save(tmp_path / "stats.json")
    saved = (tmp_path / "stats.json").read_text()
    venv.ob_rms.mean[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        venv.save(tmp_path / "stats.json")
    assert (tmp_path / "stats.json").read_text() == saved
    (tmp_path / "occupied").mkdir()
    venv.ob_rms.mean[0] = 0.0
    with pytest.raises(OSError):
        venv.save(tmp_path / "occupied")  # os.replace cannot put a file over a directory
    assert sorted(os.listdir(tmp_path)) == ["occupied", "stats.json"]


def test_cartpole_observations_are_standardised_float32_within_the_clip_range() -> None:
    venv = VecNormalize(DummyVecEnv([lambda: gymnasium.make("CartPole-v1")] * 2), clipob=5.0)
    venv.seed(0)
    obs = venv.reset()
    raw = [venv.get_original_obs()]
    rng = np.random.default_rng(0)
    for _ in range(200):
        obs, rewards, _dones, _infos = venv.step(rng.integers(0, 2, size=2))
        raw.append(venv.get_original_obs())
        assert obs.dtype == np.float32 and np.all(np.abs(obs) <= 5.0) and np.all(np.isfinite(rewards))
    assert venv.ob_rms.count == pytest.approx(402 + RMS_EPSILON)
    # The statistics cover exactly the 402 observations seen, so normalising them gives mean 0, std 1.
    normalised = venv.normalize_obs(np.concatenate(raw))
    np.testing.assert_allclose(normalised.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(normalised.std(axis=0), 1.0, atol=1e-2)
    venv.close()


LEARNERS = {  # a tiny training run of each kind of learner that saves the VecNormalize statistics it saw
    "ppo2": dict(nsteps=64, nminibatches=1, noptepochs=1, total_timesteps=128),
    "ddpg": dict(nb_rollout_steps=50, nb_train_steps=2, total_timesteps=150),
}


@pytest.mark.parametrize("alg", sorted(LEARNERS))
def test_a_model_loaded_without_training_normalizes_with_its_checkpoints_statistics(alg: str, tmp_path: Path) -> None:
    import importlib

    learn = importlib.import_module(f"baselines_tf2.{alg}.{alg}").learn

    def pendulum() -> VecNormalize:
        return VecNormalize(DummyVecEnv([lambda: gymnasium.make("Pendulum-v1")]))

    trained_env = pendulum()
    trained = learn(network="mlp", env=trained_env, seed=0, num_hidden=8, **LEARNERS[alg])
    trained.save(str(tmp_path / "model"))
    fresh_env = pendulum()
    loaded = learn(network="mlp", env=fresh_env, seed=0, num_hidden=8, load_path=str(tmp_path / "model"),
                   **{**LEARNERS[alg], "total_timesteps": 0})
    assert trained_env.ob_rms.count > 100
    np.testing.assert_array_equal(fresh_env.ob_rms.mean, trained_env.ob_rms.mean)
    assert fresh_env.ob_rms.count == trained_env.ob_rms.count
    loaded.save(str(tmp_path / "copy"))  # a copy saved from it (the CLI's --save_path) keeps them too
    from baselines_tf2.training.checkpoint import read_metadata
    from baselines_tf2.training.run import saved_vec_normalize_state

    assert saved_vec_normalize_state(read_metadata(tmp_path / "copy"))["ob_rms"]["count"] == trained_env.ob_rms.count
