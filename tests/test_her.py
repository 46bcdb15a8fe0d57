"""HER (baselines' `her`): hindsight relabelling in HerReplayBuffer on hand-built episodes (no TensorFlow), learning
FetchReach-v4 (slow), saving, loading and resuming, bad input, and the tools (play.py, evaluate, export) on a
checkpoint trained through the command line.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import gymnasium
import gymnasium_robotics
import numpy as np
import pytest
from baselines_test_util import reward_per_episode_test
from cli_helpers import PLAY, RUN, run_one

from baselines_tf2 import logger
from baselines_tf2.her.replay_buffer import STRATEGIES, HerReplayBuffer
from baselines_tf2.off_policy.goals import flat_goal_observations

gymnasium.register_envs(gymnasium_robotics)

EPISODE_STEPS = 50  # FetchReach-v4's T

# ---- hindsight relabelling on hand-built episodes (no TensorFlow) ---------------------------------------------------
#
# Every value says where it comes from: env e's k-th episode at step t observes [e, k, t] and has achieved the goal
# [e, k, t] (so after step t, [e, k, t + 1]); its desired goal is [e, k, -1], which nothing ever achieves. A sampled
# transition's obs0 is concat(observation, goal), so a batch tells which transition each row is and where its goal
# was taken from.

BOX = gymnasium.spaces.Box(-np.inf, np.inf, (3,), np.float32)
GOAL_SPACE = gymnasium.spaces.Dict({"observation": BOX, "achieved_goal": BOX, "desired_goal": BOX})
NEVER_ENDS = 10**9  # the length of an episode that is still running when the test looks


def sparse_reward(achieved: np.ndarray, desired: np.ndarray, info: Any) -> np.ndarray:
    """Fetch's reward: 0 within 0.05 of the goal, else -1."""
    return -(np.linalg.norm(achieved - desired, axis=-1) > 0.05).astype(np.float32)


def goal_buffer(num_envs: int, limit: int = 10_000, strategy: str = "future", replay_k: int = 4,
                seed: int = 0) -> HerReplayBuffer:
    return HerReplayBuffer(limit, (1,), (6,), seed=seed, observation_space=GOAL_SPACE, num_envs=num_envs,
                           compute_reward=sparse_reward, n_sampled_goal=replay_k, goal_selection_strategy=strategy)


class Episodes:
    """Plays hand-built episodes into a buffer: env e plays episodes of `lengths[e]` one after the other, then one
    that never ends; records each episode's absolute steps [start, end) as the buffer counts them."""

    def __init__(self, buffer: HerReplayBuffer, lengths: list[list[int]]) -> None:
        self.buffer = buffer
        self.lengths = lengths
        self.episode = [0] * len(lengths)  # index of each env's running episode
        self.t = [0] * len(lengths)  # its step
        self.starts: list[dict[int, int]] = [{0: 0} for _ in lengths]  # env -> episode -> first absolute step
        self.ends: list[dict[int, int]] = [{} for _ in lengths]  # env -> ended episode -> one past its last step
        self.steps = 0

    def length(self, env: int, episode: int) -> int:
        return self.lengths[env][episode] if episode < len(self.lengths[env]) else NEVER_ENDS

    def play(self, steps: int) -> None:
        for _ in range(steps):
            at = np.array([[env, self.episode[env], self.t[env]] for env in range(len(self.lengths))], np.float32)
            after = at + np.array([0, 0, 1], np.float32)
            desired = at * np.array([1, 1, 0], np.float32) - np.array([0, 0, 1], np.float32)
            dones = np.array([self.t[env] + 1 == self.length(env, self.episode[env])
                              for env in range(len(self.lengths))])
            self.buffer.store({"observation": at, "achieved_goal": at, "desired_goal": desired},
                              np.zeros((len(at), 1), np.float32), np.zeros(len(at), np.float32),
                              {"observation": after, "achieved_goal": after, "desired_goal": desired},
                              dones.astype(np.float32), dones, [{} for _ in at])
            self.steps += 1
            for env, done in enumerate(dones):
                if done:
                    self.ends[env][self.episode[env]] = self.steps
                    self.episode[env] += 1
                    self.t[env] = 0
                    self.starts[env][self.episode[env]] = self.steps
                else:
                    self.t[env] += 1

    def sampleable(self, capacity: int) -> set[tuple[int, int]]:
        """(env, episode) of the ended episodes wholly among each env's last `capacity` steps."""
        oldest = self.steps - capacity
        return {(env, episode) for env, ends in enumerate(self.ends) for episode, end in ends.items()
                if self.starts[env][episode] >= oldest}


class Batch:
    """A sampled batch decoded: which transition each row is, and its goal."""

    def __init__(self, batch: dict[str, np.ndarray]) -> None:
        self.raw = batch
        obs0 = batch["obs0"]
        self.env, self.episode, self.t = (obs0[:, i].astype(int) for i in range(3))
        self.goal = obs0[:, 3:]
        self.relabelled = self.goal[:, 2] != -1  # a desired goal's last value is -1, an achieved one's a step
        self.goal_env, self.goal_episode, self.goal_t = (self.goal[:, i].astype(int) for i in range(3))


def test_future_goals_come_from_the_same_episode_at_or_after_the_transition() -> None:
    buffer = goal_buffer(num_envs=2)
    lengths = [[5, 7, 3, 6], [4, 8, 5, 2]]
    Episodes(buffer, lengths).play(21)  # every listed episode has ended (the longest column holds 21 steps)
    batch = Batch(buffer.sample(20_000))
    assert batch.relabelled.any()
    same_episode = (batch.goal_env == batch.env) & (batch.goal_episode == batch.episode)
    assert same_episode[batch.relabelled].all(), "a goal came from another env or episode"
    # baselines' ag[future_t], future_t in t+1..T: the goal achieved after one of steps t..T-1
    episode_length = np.array([lengths[env][episode] for env, episode in zip(batch.env, batch.episode)])
    later = batch.goal_t[batch.relabelled]
    assert (later >= batch.t[batch.relabelled] + 1).all() and (later <= episode_length[batch.relabelled]).all()
    # every allowed goal is drawn: from step 0 of a 5-step episode, the goals achieved after steps 0..4
    first_steps = batch.relabelled & (batch.env == 0) & (batch.episode == 0) & (batch.t == 0)
    assert set(batch.goal_t[first_steps]) == {1, 2, 3, 4, 5}
    # the desired goal kept is the transition's own
    kept = ~batch.relabelled
    assert ((batch.goal_env == batch.env) & (batch.goal_episode == batch.episode))[kept].all()


@pytest.mark.parametrize("replay_k", [1, 4])
def test_relabelled_fraction_is_one_minus_one_over_one_plus_replay_k(replay_k: int) -> None:
    buffer = goal_buffer(num_envs=2, replay_k=replay_k)
    Episodes(buffer, [[10, 10, 10], [15, 15]]).play(30)
    size = 40_000
    fraction = Batch(buffer.sample(size)).relabelled.mean()
    expected = 1 - 1 / (1 + replay_k)  # baselines' future_p: 0.5 for k = 1, 0.8 for k = 4
    assert abs(fraction - expected) < 5 * np.sqrt(expected * (1 - expected) / size), fraction


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_rewards_are_compute_reward_of_the_batch_goals(strategy: str) -> None:
    buffer = goal_buffer(num_envs=2, strategy=strategy)
    Episodes(buffer, [[4, 6, 3], [5, 5, 3]]).play(13)
    batch = Batch(buffer.sample(5_000))
    next_achieved = batch.raw["obs1"][:, :3]  # the observation after the step is the goal achieved after it
    np.testing.assert_array_equal(batch.raw["rewards"][:, 0], sparse_reward(next_achieved, batch.goal, {}))
    if strategy in ("future", "final"):  # goals reached by the step itself: these transitions earn 0, not -1
        assert (batch.raw["rewards"] == 0).any()


def test_rewards_on_fetchreach_are_its_compute_reward_for_the_relabelled_goals() -> None:
    """Two real FetchReach-v4 episodes of random actions, stored as the learners store them (flattened and clipped);
    each sampled reward is the env's own compute_reward for the batch's goal."""
    env = gymnasium.make("FetchReach-v4")
    buffer = HerReplayBuffer(1000, (4,), (13,), seed=0, flatten=lambda obs: flat_goal_observations(obs, 200.0),
                             observation_space=env.observation_space, num_envs=1,
                             compute_reward=env.unwrapped.compute_reward)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    for _ in range(2 * EPISODE_STEPS):
        action = rng.uniform(-1, 1, 4).astype(np.float32)
        next_obs, _reward, terminated, truncated, _info = env.step(action)
        done = terminated or truncated
        buffer.store(batched(obs), action[None], np.zeros(1), batched(next_obs), np.array([float(terminated)]),
                     np.array([done]), [{}])
        obs = env.reset()[0] if done else next_obs
    env.close()
    batch = buffer.sample(2_000)
    # FetchReach's observation starts with the gripper's position, which is the achieved goal
    achieved, goals = batch["obs1"][:, :3], batch["obs1"][:, -3:]
    np.testing.assert_array_equal(batch["rewards"][:, 0], env.unwrapped.compute_reward(achieved, goals, {}))
    np.testing.assert_array_equal(batch["obs0"][:, -3:], goals)
    assert (batch["rewards"] == 0).mean() > 0.1, "relabelled goals near the gripper earn 0"


@pytest.mark.parametrize("vec_env_kind", ["dummy", "subproc"])
def test_the_reward_function_of_envs_in_worker_processes_is_the_envs_own(vec_env_kind: str) -> None:
    """HER calls compute_reward in the learner's process: for envs in worker processes it makes one from their spec
    (without the wrappers make_env adds), and its rewards are FetchReach's."""
    from baselines_tf2.common.cmd_util import make_vec_env
    from baselines_tf2.her.replay_buffer import local_goal_env

    venv = make_vec_env("FetchReach-v4", "robotics", 2, 0, flatten_dict_observations=False, vec_env_kind=vec_env_kind)
    try:
        compute_reward = local_goal_env(venv).unwrapped.compute_reward
        goal = np.zeros((2, 3))
        np.testing.assert_array_equal(compute_reward(goal, goal + [[0.01, 0, 0], [1, 0, 0]], {}), [0.0, -1.0])
    finally:
        venv.close()


def batched(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {key: value[None] for key, value in obs.items()}


def test_strategy_none_never_relabels() -> None:
    buffer = goal_buffer(num_envs=2, strategy="none")
    Episodes(buffer, [[4, 6], [5, 5]]).play(10)
    batch = Batch(buffer.sample(5_000))
    assert not batch.relabelled.any()
    assert (batch.raw["rewards"] == -1).all()


def test_strategy_final_uses_the_episodes_last_achieved_goal() -> None:
    lengths = [[4, 6, 3], [5, 5, 3]]
    buffer = goal_buffer(num_envs=2, strategy="final")
    Episodes(buffer, lengths).play(13)
    batch = Batch(buffer.sample(5_000))
    relabelled = batch.relabelled
    assert relabelled.mean() == pytest.approx(0.8, abs=0.03)
    episode_length = np.array([lengths[env][episode] for env, episode in zip(batch.env, batch.episode)])
    np.testing.assert_array_equal(batch.goal_t[relabelled], episode_length[relabelled])
    assert (batch.goal_episode == batch.episode)[relabelled].all() and (batch.goal_env == batch.env)[relabelled].all()


def test_strategy_episode_draws_from_any_step_of_the_same_episode() -> None:
    lengths = [[4, 6, 3], [5, 5, 3]]
    buffer = goal_buffer(num_envs=2, strategy="episode")
    Episodes(buffer, lengths).play(13)
    batch = Batch(buffer.sample(5_000))
    relabelled = batch.relabelled
    episode_length = np.array([lengths[env][episode] for env, episode in zip(batch.env, batch.episode)])
    assert (batch.goal_episode == batch.episode)[relabelled].all() and (batch.goal_env == batch.env)[relabelled].all()
    assert ((batch.goal_t >= 1) & (batch.goal_t <= episode_length))[relabelled].all()
    assert (batch.goal_t < batch.t + 1)[relabelled].any(), "goals achieved before the transition occur too"


def test_running_episodes_are_never_sampled() -> None:
    buffer = goal_buffer(num_envs=2)
    episodes = Episodes(buffer, [[4, 4], []])  # env 1's first episode is still running at the end
    episodes.play(3)
    with pytest.raises(ValueError, match="before an episode has ended"):
        buffer.sample(8)
    episodes.play(8)  # env 0: two ended episodes and 3 steps of a third; env 1: 11 steps of one
    assert buffer.nb_entries == len(buffer) == 8
    batch = Batch(buffer.sample(5_000))
    assert set(zip(batch.env, batch.episode)) == {(0, 0), (0, 1)}


def test_ring_overwrite_drops_whole_episodes() -> None:
    capacity = 10
    buffer = goal_buffer(num_envs=2, limit=2 * capacity)
    assert buffer.capacity == capacity
    # env 1's 12-step episode is longer than the ring: its first steps are gone before it ends, so it never counts
    episodes = Episodes(buffer, [[3, 4, 5, 2, 6, 3, 4, 1, 7, 3], [6, 2, 12, 3, 4, 5, 2, 4]])
    counts = []
    for _ in range(40):
        episodes.play(1)
        expected = episodes.sampleable(capacity)
        lengths = sum(episodes.lengths[env][episode] for env, episode in expected)
        assert buffer.nb_entries == lengths, f"after step {episodes.steps}"
        counts.append(buffer.nb_entries)
        if not expected:
            continue
        batch = Batch(buffer.sample(2_000))
        assert set(zip(batch.env, batch.episode)) <= expected, f"a partly overwritten episode at {episodes.steps}"
        assert (batch.goal_episode == batch.episode)[batch.relabelled].all()
    assert any(later < earlier for earlier, later in zip(counts, counts[1:])), "the ring never dropped an episode"
    assert (1, 2) not in episodes.sampleable(capacity) and 2 in episodes.ends[1]


def test_state_round_trip_continues_sampling_identically() -> None:
    lengths = [[3, 4, 5, 2, 6, 3], [6, 2, 5, 3, 4]]
    original = goal_buffer(num_envs=2, limit=24, seed=1)
    episodes = Episodes(original, lengths)
    episodes.play(17)
    original.sample(64)  # the generator has moved on from its seed
    info, arrays = original.state()
    restored = goal_buffer(num_envs=2, limit=24, seed=99)
    restored.load_state(json.loads(json.dumps(info)), {name: array.copy() for name, array in arrays.items()})
    assert restored.nb_entries == original.nb_entries
    assert_same_batches(original.sample(256), restored.sample(256))
    # both go on alike: the restored buffer, given the same next steps, samples the same batches
    replay = copy.deepcopy(episodes)
    replay.buffer = restored
    episodes.play(6)
    replay.play(6)
    assert restored.nb_entries == original.nb_entries
    assert_same_batches(original.sample(256), restored.sample(256))


def assert_same_batches(expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> None:
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_unknown_strategy_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError) as caught:
        goal_buffer(num_envs=1, strategy="future_k")
    assert "'future_k'" in str(caught.value)
    assert all(name in str(caught.value) for name in STRATEGIES)


# ---- learning FetchReach (slow); the trained agent saved, loaded and its policy files ---------------------------


def fetchreach_env() -> gymnasium.Env:
    """baselines' env_fn: FetchReach seeded 0 (gym's env.seed(0) is gymnasium's reset(seed=0))."""
    env = gymnasium.make("FetchReach-v4")
    env.reset(seed=0)
    return env


def fetch_vec_env(**kwargs: Any) -> Any:
    """One FetchReach-v4 env in a DummyVecEnv, its Dict observations kept, seeded 0."""
    from baselines_tf2.common.cmd_util import make_vec_env

    return make_vec_env("FetchReach-v4", "robotics", 1, seed=0, force_dummy=True, flatten_dict_observations=False,
                        **kwargs)


def fetchreach_observations(count: int = 100) -> dict[str, np.ndarray]:
    """`count` real FetchReach observations (random actions, several episodes) as one dict batch."""
    env = gymnasium.make("FetchReach-v4")
    rng = np.random.default_rng(0)
    seen = []
    obs, _ = env.reset(seed=1)
    for step in range(count):
        seen.append(obs)
        obs, _reward, terminated, truncated, _info = env.step(rng.uniform(-1, 1, 4))
        if terminated or truncated or step % 20 == 19:  # new goals every 20 steps
            obs, _ = env.reset()
    env.close()
    return {key: np.stack([obs[key] for obs in seen]) for key in seen[0]}


def test_networks_start_from_baselines_her_initialization() -> None:
    """baselines' her/util.py nn(): every dense layer, the output layers too, Xavier-uniform with zero biases (not
    DDPG's +-3e-3 output layers); the target networks start equal to them."""
    from baselines_tf2.run import get_learn_function

    env = fetch_vec_env()
    try:
        agent = get_learn_function("her")(env=env, network="mlp", seed=0, total_timesteps=0)
    finally:
        env.close()
    for model, target in ((agent.actor, agent.target_actor), (agent.critic, agent.target_critic)):
        for variable in model.weights:
            values = variable.numpy()
            if variable.path.endswith("bias"):
                assert not values.any(), variable.path
            else:
                bound = np.sqrt(6.0 / sum(values.shape))
                assert 0.9 * bound < np.abs(values).max() <= bound, variable.path  # uniform over the whole range
        for variable, copied in zip(model.weights, target.weights, strict=True):
            np.testing.assert_array_equal(copied.numpy(), variable.numpy())


@dataclasses.dataclass(frozen=True)
class FetchReachRun:
    model: Any  # what learn() returned
    progress: Path  # the run's progress.csv
    policies: Path  # its save_path: baselines' policy_best, policy_latest, policy_<epoch>


@pytest.fixture(scope="module")
def fetchreach(tmp_path_factory: pytest.TempPathFactory) -> FetchReachRun:
    """baselines' test_fetchreach run, once: her with network='mlp', seed=0 and total_timesteps=2000 (4 epochs of
    10 cycles of one 50-step episode) on a DummyVecEnv of `fetchreach_env`, logged and saving its policies."""
    from baselines_tf2.common.vec_env import DummyVecEnv
    from baselines_tf2.run import get_learn_function

    folder = tmp_path_factory.mktemp("her_fetchreach")
    env = DummyVecEnv([fetchreach_env])
    try:
        with logger.scoped_configure(str(folder / "log"), ["csv"]):
            model = get_learn_function("her")(env=env, network="mlp", seed=0, total_timesteps=2000,
                                              save_path=str(folder / "policies"))
    finally:
        env.close()
    return FetchReachRun(model, folder / "log" / "progress.csv", folder / "policies")


@pytest.mark.slow
def test_fetchreach(fetchreach: FetchReachRun) -> None:
    """baselines' her/tests/test_fetchreach.py: `reward_per_episode_test(env_fn, learn_fn, -15)`, the mean return
    of 100 episodes played with model.step above -15 (an episode is 50 steps of -1 until the goal is reached). The
    `fetchreach` fixture trains as baselines' learn_fn does, on a DummyVecEnv of the same env_fn."""
    reward_per_episode_test(fetchreach_env, lambda env: fetchreach.model, -15)


@pytest.mark.slow
def test_her_ddpg_reaches_a_test_success_rate_of_09_within_10_epochs(fetchreach: FetchReachRun) -> None:
    """DDPG + HER on one process: baselines' FetchReach setting (n_cycles=10, 500 steps an epoch) reaches a test
    success rate (10 deterministic episodes after each epoch) of 0.9 within 10 epochs; the fixture's 4 epochs
    already do (a change that needs 5 to 10 would fail here: lengthen the fixture's run then)."""
    with open(fetchreach.progress) as file:
        rows = list(csv.DictReader(file))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2, 3]
    rates = [float(row["test/success_rate"]) for row in rows]
    assert max(rates) >= 0.9, rates


@pytest.mark.slow
def test_saved_agent_loads_and_acts_identically_on_dict_observations(fetchreach: FetchReachRun,
                                                                      tmp_path: Path) -> None:
    from baselines_tf2.her import her
    from baselines_tf2.training.agent import load_policy

    model = fetchreach.model
    obs = fetchreach_observations()
    expected = model.policy.act_deterministic(obs)[0]
    assert expected.shape == (100, 4) and np.ptp(expected) > 0.1, "the actions must vary for the test to mean much"
    model.save(str(tmp_path / "agent"))
    policy, metadata, _groups = load_policy(str(tmp_path / "agent"))
    assert metadata["alg"] == "her" and metadata["observation_space"]["type"] == "Dict"
    np.testing.assert_array_equal(policy.act_deterministic(obs)[0], expected)
    np.testing.assert_array_equal(policy.step(obs)[0], model.step(obs)[0])
    single = {key: value[7] for key, value in obs.items()}  # one observation as the env gives it
    # (a batch of one sums in another order than a batch of 100: equal to float32 rounding)
    np.testing.assert_allclose(policy.step(single)[0], expected[7:8], rtol=1e-5, atol=1e-6)
    # the control: an agent built with another seed, untrained, acts otherwise
    env = fetch_vec_env()
    try:
        fresh = her.learn(network="mlp", env=env, total_timesteps=0, seed=1)
    finally:
        env.close()
    assert not np.allclose(fresh.policy.act_deterministic(obs)[0], expected, atol=1e-3)


@pytest.mark.slow
def test_policy_files_are_saved_as_data_and_latest_is_the_final_agent(fetchreach: FetchReachRun) -> None:
    """baselines' policy_best, policy_latest and policy_<epoch> (every policy_save_interval=5 epochs: only 0 in
    4), in the checkpoint format: a zip of metadata.json and .npy arrays that load without pickle."""
    from baselines_tf2.training.agent import load_policy

    assert sorted(path.name for path in fetchreach.policies.iterdir()) == ["policy_0", "policy_best",
                                                                          "policy_latest"]
    for path in fetchreach.policies.iterdir():
        assert_checkpoint_is_data(path)
    obs = fetchreach_observations()
    latest, metadata, _groups = load_policy(str(fetchreach.policies / "policy_latest"))
    assert metadata["alg"] == "her"
    # the last epoch's test rollouts come after its updates, so the latest policy is the agent learn() returned
    np.testing.assert_array_equal(latest.act_deterministic(obs)[0],
                                  fetchreach.model.policy.act_deterministic(obs)[0])


@pytest.mark.slow
def test_policy_files_record_the_steps_trained_when_saved(fetchreach: FetchReachRun) -> None:
    from baselines_tf2.training.checkpoint import read_metadata

    assert read_metadata(str(fetchreach.policies / "policy_latest"))["timesteps"] == 2000


def assert_checkpoint_is_data(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert "metadata.json" in names
        json.loads(archive.read("metadata.json"))
        arrays = [name for name in names if name != "metadata.json"]
        assert arrays and all(name.startswith("arrays/") and name.endswith(".npy") for name in arrays), names
        for name in arrays:
            np.load(io.BytesIO(archive.read(name)), allow_pickle=False)


# ---- a run stopped and resumed with load_path (tiny networks: seconds) ---------------------------------------------

TINY = {"n_cycles": 2, "n_batches": 2, "batch_size": 32, "layers": 1, "hidden": 16, "n_test_rollouts": 1,
        "checkpoint_freq": 100}  # epochs of 2 cycles (100 steps), a checkpoint after each
TINY_TOTAL = 300


def tiny_run(log_dir: Path, **kwargs: Any) -> Any:
    from baselines_tf2.her import her

    env = fetch_vec_env(resumable=kwargs.get("deterministic", False))
    try:
        with logger.scoped_configure(str(log_dir), ["csv"]):
            return her.learn(network="mlp", env=env, total_timesteps=TINY_TOTAL, seed=0, **TINY, **kwargs)
    finally:
        env.close()


def newest_checkpoint(log_dir: Path) -> Path:
    folder = log_dir / "checkpoints"
    return folder / (folder / "latest").read_text().strip()


def progress_rows(log_dir: Path) -> list[dict[str, str]]:
    with open(log_dir / "progress.csv") as file:
        return list(csv.DictReader(file))


def test_a_stopped_run_resumed_with_load_path_finishes_it(tmp_path: Path) -> None:
    """The callback stops the run after its first epoch (whose checkpoint is written); the same learn() call with
    load_path=that checkpoint trains the two remaining epochs only, its counters going on from the stop."""
    from baselines_tf2.training.checkpoint import read_metadata

    whole = tiny_run(tmp_path / "whole")
    stopped = tiny_run(tmp_path / "stopped", callback=lambda local_vars, _globals: local_vars["t"] >= 100)
    assert stopped.timesteps == 100
    checkpoint = newest_checkpoint(tmp_path / "stopped")
    assert read_metadata(str(checkpoint))["training"]["update"] == 2  # 2 cycles of 50 steps
    resumed = tiny_run(tmp_path / "resumed", load_path=str(checkpoint))
    assert resumed.timesteps == whole.timesteps == TINY_TOTAL
    assert read_metadata(str(newest_checkpoint(tmp_path / "resumed")))["training"]["update"] == 6
    rows, whole_rows = progress_rows(tmp_path / "resumed"), progress_rows(tmp_path / "whole")
    assert [row["total/steps"] for row in rows] == ["200", "300"]  # the first epoch is not trained again
    assert [row["train/gradient_steps"] for row in rows] == [row["train/gradient_steps"] for row in whole_rows[1:]]


def test_deterministic_run_stopped_and_resumed_ends_with_the_uninterrupted_weights(tmp_path: Path) -> None:
    exact = {"deterministic": True, "save_replay": True}
    tiny_run(tmp_path / "whole", **exact)
    tiny_run(tmp_path / "stopped", callback=lambda local_vars, _globals: local_vars["t"] >= 100, **exact)
    tiny_run(tmp_path / "resumed", load_path=str(newest_checkpoint(tmp_path / "stopped")), **exact)
    whole, resumed = (checkpoint_arrays(newest_checkpoint(tmp_path / name)) for name in ("whole", "resumed"))
    assert sorted(resumed) == sorted(whole)
    for name, value in whole.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def checkpoint_arrays(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        return {name: np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
                for name in archive.namelist() if name.startswith("arrays/")}


# ---- bad input ---------------------------------------------------------------------------------------------------


def test_an_env_without_goals_is_refused_naming_the_goal_keys() -> None:
    from baselines_tf2.her import her

    with pytest.raises(ValueError, match="observation, achieved_goal and desired_goal") as caught:
        her.learn(network="mlp", env=gymnasium.make("Pendulum-v1"), total_timesteps=1000)
    assert "Box" in str(caught.value)  # what Pendulum's observations are instead


@pytest.mark.parametrize("arguments, message", [
    ({"total_timesteps": 499}, "less than one epoch of 500 steps"),  # 10 cycles x T 50 x 1 env x 1 rank
    ({"override_params": {"n_cycle": 2}}, r"unknown HER parameter\(s\) n_cycle; known: .*n_cycles"),
    ({"network": "cnn"}, "network='mlp'"),
    ({"override_params": {"test_with_polyak": True}}, "test_with_polyak=True .* is not supported"),
    ({"override_params": {"relative_goals": True}}, "relative_goals=True .* is not supported"),
    ({"override_params": {"max_u": 2.0}}, "max_u=2.0: actions are always scaled"),
], ids=["below_one_epoch", "unknown_override", "network", "test_with_polyak", "relative_goals", "max_u"])
def test_bad_arguments_are_refused(arguments: dict[str, Any], message: str) -> None:
    from baselines_tf2.her import her

    env = fetch_vec_env()
    try:
        with pytest.raises(ValueError, match=message):
            her.learn(env=env, **{"network": "mlp", "total_timesteps": 1000, **arguments})
    finally:
        env.close()


# ---- play.py, evaluate and export on a checkpoint trained through the command line ------------------------------

CLI_TIMEOUT_S = 300  # TensorFlow's start-up and 200 steps, on 2 busy cores
EPISODE_LINE = re.compile(r"^episode (\d+): score (-?\d+), 50 steps, success (yes|no)$", re.MULTILINE)


@pytest.fixture(scope="module")
def cli_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m baselines_tf2.run --alg=her --env=FetchReach-v4` for 2 epochs of 2 cycles (the run CLI passes
    extra --name=value flags to learn()); the model it saves."""
    root = tmp_path_factory.mktemp("her_cli")
    model = root / "model"
    result = run_one([*RUN, "--alg=her", "--env=FetchReach-v4", "--num_timesteps=200", "--n_cycles=2",
                      "--n_batches=2", "--n_test_rollouts=1", "--seed=0", f"--save_path={model}",
                      f"--log_path={root / 'log'}"], root, CLI_TIMEOUT_S)
    assert result.returncode == 0, result.stderr[-3000:]
    return model


def test_play_prints_each_episodes_success_beside_its_return(cli_checkpoint: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """play.py on the CLI's checkpoint, and `python -m baselines_tf2.evaluate` with the same seed: the same episodes,
    each with its success (info['is_success'] at its last step), and their success rate."""
    from baselines_tf2 import evaluate

    played = run_one([*PLAY, str(cli_checkpoint), "--episodes", "3", "--seed", "0"], tmp_path, CLI_TIMEOUT_S)
    assert played.returncode == 0, played.stderr[-3000:]
    episodes = EPISODE_LINE.findall(played.stdout)
    assert [int(number) for number, _score, _success in episodes] == [1, 2, 3], played.stdout[-2000:]
    wins = sum(success == "yes" for _number, _score, success in episodes)
    assert f"success rate over 3 episodes: {wins / 3:g} ({wins}/3)" in played.stdout
    report_path = tmp_path / "report.json"
    assert evaluate.main([str(cli_checkpoint), "--episodes", "3", "--seed", "0", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["scores"] == [float(score) for _number, score, _success in episodes]
    assert report["successes"] == [success == "yes" for _number, _score, success in episodes]
    assert report["lengths"] == [50, 50, 50]  # a Fetch episode never terminates; its time limit cuts it at 50 steps
    assert report["summary"]["success_rate"] == pytest.approx(wins / 3)
    assert re.search(rf"\| success rate +\| {wins / 3:.3g} \({wins}/3\) +\|", capsys.readouterr().out)


@pytest.mark.parametrize("fmt", ["savedmodel", "keras", "tflite"])
def test_export_takes_the_goal_envs_observation_dict(cli_checkpoint: Path, fmt: str, tmp_path: Path) -> None:
    """The exported model has one input per key of the Dict observations and gives the checkpoint's actions for
    real FetchReach observations, loaded with the format's plain loader."""
    from baselines_tf2 import export
    from baselines_tf2.tools import export_formats
    from baselines_tf2.training.agent import load_policy

    out = tmp_path / f"her{export_formats.SUFFIXES[fmt]}"
    assert export.main([str(cli_checkpoint), "--format", fmt, "--out", str(out)]) == 0
    obs = {key: value.astype(np.float32) for key, value in fetchreach_observations(40).items()}
    policy, _metadata, _groups = load_policy(str(cli_checkpoint))
    outputs = export_formats.run(fmt, str(out), obs)
    np.testing.assert_allclose(outputs["actions"], policy.act_deterministic(obs)[0], rtol=1e-4, atol=1e-5)


def test_export_to_onnx_refuses_dict_observations_in_one_line(cli_checkpoint: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from baselines_tf2 import export
    from baselines_tf2.tools import export_formats

    monkeypatch.setattr(export_formats, "check_available", lambda fmt: None)  # as if tf2onnx were installed
    with pytest.raises(SystemExit) as exited:
        export.main([str(cli_checkpoint), "--format", "onnx", "--out", str(tmp_path / "her.onnx")])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Dict observations (achieved_goal, desired_goal, observation)" in error
    assert "savedmodel, keras or tflite" in error
    assert not list(tmp_path.iterdir())


def test_parameters_merge_in_baselines_order() -> None:
    """baselines' her.learn: defaults, then replay_strategy, the env's DEFAULT_ENV_PARAMS, override_params, and
    last the keyword arguments; each later one wins."""
    from baselines_tf2.her.config import DEFAULT_ENV_PARAMS, config_for

    learn_arguments = {"replay_strategy": "future", "clip_return": True}
    overridden = config_for("FetchReach-v4", {"replay_strategy": "none", "n_cycles": 3}, learn_arguments)
    assert overridden.replay_strategy == "none" and overridden.n_cycles == 3
    env_default = DEFAULT_ENV_PARAMS["FetchReach-v4"]["n_cycles"]
    assert config_for("FetchReach-v4", None, learn_arguments).n_cycles == env_default
    assert config_for("FetchReach-v4", {"n_cycles": 3}, learn_arguments, n_cycles=7).n_cycles == 7
