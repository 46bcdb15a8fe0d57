"""gymnasium-robotics' goal-based envs (the `robotics` extra) on the env side, for HER: ids classified as baselines'
'robotics' (registering gymnasium-robotics only when an id needs it), Dict observations kept through every VecEnv
kind and the wrappers that take them, a clear error from those that cannot, and the CLI refusing a goal-less env
for a goal-based algorithm.

All on the real FetchReach-v4 (50-step episodes, a few hundred steps in all).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import gymnasium
import numpy as np
import pytest

from baselines_tf2 import logger
from baselines_tf2 import run as run_cli
from baselines_tf2.algorithms import ALGORITHMS
from baselines_tf2.common import cmd_util
from baselines_tf2.common.cmd_util import ROBOTICS_EXTRA, get_env_type, make_robotics_env, make_vec_env
from baselines_tf2.common.vec_env import (
    DummyVecEnv,
    VecEnv,
    VecExtractDictObs,
    VecFrameStack,
    VecMonitor,
    VecNormalize,
)
from baselines_tf2.common.vec_env.vec_env import TERMINAL_OBSERVATION, TRUNCATED

requires_robotics = pytest.mark.skipif(importlib.util.find_spec("gymnasium_robotics") is None,
                                       reason=f"needs gymnasium-robotics: {ROBOTICS_EXTRA}")

ENV_ID = "FetchReach-v4"
EPISODE_STEPS = 50  # FetchReach-v4's max_episode_steps
GOAL_SHAPES = {"observation": (10,), "achieved_goal": (3,), "desired_goal": (3,)}
NUM_ENV = 2
SEED = 3
VEC_ENV_KINDS = ("dummy", "subproc", "shmem")


def fetch_vec_env(kind: str = "dummy", seed: int = SEED, monitor_dir: str | None = None) -> VecEnv:
    """NUM_ENV FetchReach envs keeping their Dict observations, built by make_vec_env."""
    return make_vec_env(ENV_ID, "robotics", NUM_ENV, seed, vec_env_kind=kind, flatten_dict_observations=False,
                        monitor_dir=monitor_dir)


def episode_actions() -> np.ndarray:
    """One episode of fixed random actions for every env, [EPISODE_STEPS, NUM_ENV, 4]."""
    return np.random.default_rng(0).uniform(-1, 1, (EPISODE_STEPS, NUM_ENV, 4)).astype(np.float32)


@dataclasses.dataclass
class Played:
    """What one VecEnv kind returned over its first episode, then after seeding it again."""

    space: gymnasium.Space
    first: Any  # reset's batch
    dones: list[np.ndarray]
    last_infos: list[dict[str, Any]]
    next_first: Any  # the batch of the step that ended the episode: the next episodes' first observations
    reseeded_first: Any  # reset's batch after venv.seed(SEED) again


def play_episode(venv: VecEnv) -> Played:
    first = venv.reset()
    dones = []
    obs: Any = first
    infos: list[dict[str, Any]] = []
    for actions in episode_actions():
        obs, _rewards, done, infos = venv.step(actions)
        dones.append(done)
    venv.seed(SEED)
    return Played(venv.observation_space, first, dones, infos, obs, venv.reset())


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Played]:
    """One seeded episode per VecEnv kind (the worker processes build FetchReach from its id alone)."""
    if importlib.util.find_spec("gymnasium_robotics") is None:
        pytest.skip(f"needs gymnasium-robotics: {ROBOTICS_EXTRA}")
    results = {}
    for kind in VEC_ENV_KINDS:
        venv = fetch_vec_env(kind, monitor_dir=str(tmp_path_factory.mktemp(kind)))
        try:
            results[kind] = play_episode(venv)
        finally:
            venv.close()
    return results


def assert_same_obs(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> None:
    assert left.keys() == right.keys()
    for key in left:
        np.testing.assert_array_equal(left[key], right[key], err_msg=key)


# ---- env type and registration ---------------------------------------------------------------------------------


@requires_robotics
@pytest.mark.parametrize("env_id", ["FetchReach-v4", "FetchPush-v4", "FetchPickAndPlace-v4", "HandReach-v3",
                                    "HandManipulateBlock-v1", "HandManipulateEggRotate-v1"])
def test_gymnasium_robotics_ids_are_of_baselines_robotics_type(env_id: str) -> None:
    assert get_env_type(env_id) == "robotics"
    assert run_cli.get_env_type(env_id) == "robotics"  # baselines' run.get_env_type on a bare id


@requires_robotics
def test_gymnasium_robotics_is_imported_only_for_ids_that_need_it() -> None:
    """Atari, MuJoCo and classic ids never pay its import (a fresh process, since this one has it loaded)."""
    script = (
        "import sys\n"
        "from baselines_tf2.common.cmd_util import get_env_type\n"
        "types = [get_env_type(i) for i in ('CartPole-v1', 'HalfCheetah-v5', 'PongNoFrameskip-v4')]\n"
        "assert 'gymnasium_robotics' not in sys.modules, types\n"
        "print(types, get_env_type('FetchReach-v4'), 'gymnasium_robotics' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["['classic_control',", "'mujoco',", "'atari']", "robotics", "True"]


def test_a_robotics_id_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if gymnasium-robotics were not installed: an unknown Fetch/Hand id names the extra to install."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "gymnasium_robotics" else find_spec(name, *args))
    for env_id in ("FetchTouch-v4", "HandWave-v1"):  # ids no package registers
        with pytest.raises(ValueError, match=rf"unknown environment id '{env_id}'.*{re.escape(ROBOTICS_EXTRA)}"):
            get_env_type(env_id)
    with pytest.raises(ValueError) as other:
        get_env_type("NoSuchEnv-v0")
    assert "robotics" not in str(other.value)  # only ids that look like gym's robotics ones get the hint
    with pytest.raises(ImportError, match=re.escape(ROBOTICS_EXTRA)):
        cmd_util.make_env("FetchTouch-v4", "robotics")
    with pytest.raises(ImportError, match=re.escape(ROBOTICS_EXTRA)):
        make_robotics_env("FetchTouch-v4", seed=0)


@requires_robotics
def test_a_mistyped_robotics_id_gets_close_matches() -> None:
    with pytest.raises(ValueError, match=r"unknown environment id 'FetchReach-v3'; did you mean .*FetchReach-v4"):
        get_env_type("FetchReach-v3")


# ---- Dict observations through the VecEnvs ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", VEC_ENV_KINDS)
def test_dict_observations_keep_their_keys_shapes_and_dtypes(played: dict[str, Played], kind: str) -> None:
    result = played[kind]
    assert isinstance(result.space, gymnasium.spaces.Dict)
    assert {key: result.space[key].shape for key in GOAL_SHAPES} == GOAL_SHAPES
    for batch in (result.first, result.next_first, result.reseeded_first):
        assert isinstance(batch, dict) and set(batch) == set(GOAL_SHAPES)
        for key, shape in GOAL_SHAPES.items():
            assert batch[key].shape == (NUM_ENV, *shape)
            assert batch[key].dtype == result.space[key].dtype == np.float64


@pytest.mark.parametrize("kind", VEC_ENV_KINDS)
def test_the_episode_ends_at_the_time_limit_with_a_dict_terminal_observation(
    played: dict[str, Played], kind: str
) -> None:
    result = played[kind]
    assert not np.any(result.dones[:-1]) and np.all(result.dones[-1])
    for index, info in enumerate(result.last_infos):
        terminal = info[TERMINAL_OBSERVATION]
        assert isinstance(terminal, dict) and {key: value.shape for key, value in terminal.items()} == GOAL_SHAPES
        assert info[TRUNCATED] is True  # a time limit, not a terminal state: HER bootstraps through it
        assert "is_success" in info
        # the last observation of the ended episode is not the next episode's first (a new goal is drawn)
        assert not np.array_equal(terminal["desired_goal"], result.next_first["desired_goal"][index])


@pytest.mark.parametrize("kind", ["subproc", "shmem"])
def test_every_vec_env_kind_plays_the_same_seeded_episode(played: dict[str, Played], kind: str) -> None:
    reference, result = played["dummy"], played[kind]
    assert_same_obs(result.first, reference.first)
    assert_same_obs(result.next_first, reference.next_first)
    for info, reference_info in zip(result.last_infos, reference.last_infos):
        assert_same_obs(info[TERMINAL_OBSERVATION], reference_info[TERMINAL_OBSERVATION])


@pytest.mark.parametrize("kind", VEC_ENV_KINDS)
def test_seeding_again_repeats_the_first_observations(played: dict[str, Played], kind: str) -> None:
    result = played[kind]
    assert_same_obs(result.reseeded_first, result.first)
    # env i is seeded with SEED + i: the envs draw different goals
    assert not np.array_equal(result.first["desired_goal"][0], result.first["desired_goal"][1])


@requires_robotics
def test_another_seed_draws_other_goals() -> None:
    with fetch_vec_env(seed=SEED + 100) as venv:
        other = venv.reset()
    with fetch_vec_env() as venv:
        first = venv.reset()
    assert not np.array_equal(other["desired_goal"], first["desired_goal"])


@requires_robotics
def test_flattened_by_default_as_for_every_algorithm_but_her() -> None:
    with make_vec_env(ENV_ID, "robotics", 1, SEED) as venv:
        assert venv.observation_space.shape == (16,)  # observation 10 + achieved goal 3 + desired goal 3
        assert venv.reset().shape == (1, 16)


# ---- wrappers ----------------------------------------------------------------------------------------------------


@requires_robotics
def test_vec_monitor_records_dict_observation_episodes(tmp_path: Path) -> None:
    cmd_util.register_robotics_envs()  # the envs are made here with gymnasium.make, not through make_env
    fns = [lambda: gymnasium.make(ENV_ID) for _ in range(NUM_ENV)]
    venv = VecMonitor(DummyVecEnv(fns), filename=str(tmp_path / "fetch"), info_keywords=("is_success",))
    venv.seed(SEED)
    venv.reset()
    returns = np.zeros(NUM_ENV)
    for actions in episode_actions():
        obs, rewards, dones, infos = venv.step(actions)
        returns += rewards
    venv.close()
    assert isinstance(obs, dict)
    for index, info in enumerate(infos):
        episode = info["episode"]
        assert episode["l"] == EPISODE_STEPS
        assert episode["r"] == pytest.approx(returns[index])  # FetchReach's sparse reward: -1 per step not reached
        assert -EPISODE_STEPS <= episode["r"] <= 0
        assert episode["is_success"] in (0.0, 1.0)
        assert isinstance(info[TERMINAL_OBSERVATION], dict)
    rows = (tmp_path / "fetch.monitor.csv").read_text().splitlines()
    assert rows[1] == "r,l,t,is_success" and len(rows) == 2 + NUM_ENV


@requires_robotics
def test_vec_extract_dict_obs_shows_one_key_and_its_terminal_observation(played: dict[str, Played]) -> None:
    reference = played["dummy"]
    assert isinstance(reference.space, gymnasium.spaces.Dict)
    venv = VecExtractDictObs(fetch_vec_env("shmem"), "desired_goal")
    try:
        assert venv.observation_space == reference.space["desired_goal"]
        result = play_episode(venv)
    finally:
        venv.close()
    np.testing.assert_array_equal(result.first, reference.first["desired_goal"])
    np.testing.assert_array_equal(result.next_first, reference.next_first["desired_goal"])
    for info, reference_info in zip(result.last_infos, reference.last_infos):
        np.testing.assert_array_equal(info[TERMINAL_OBSERVATION], reference_info[TERMINAL_OBSERVATION]["desired_goal"])


@pytest.fixture
def dict_venv() -> Iterator[VecEnv]:
    if importlib.util.find_spec("gymnasium_robotics") is None:
        pytest.skip(f"needs gymnasium-robotics: {ROBOTICS_EXTRA}")
    venv = fetch_vec_env()
    yield venv
    venv.close()


@pytest.mark.parametrize("wrap", [VecNormalize, lambda venv: VecFrameStack(venv, 4)], ids=["normalize", "framestack"])
def test_wrappers_of_one_array_refuse_dict_observations_at_construction(dict_venv: VecEnv, wrap: Any) -> None:
    with pytest.raises(TypeError, match=r"got Dict\(.*VecExtractDictObs\(venv, key\).*achieved_goal, desired_goal, "
                                        r"observation.*flatten_dict_observations=True"):
        wrap(dict_venv)
    # what the message suggests works
    assert VecNormalize(VecExtractDictObs(dict_venv, "observation")).observation_space.shape == (10,)


def test_vec_extract_dict_obs_names_the_keys_it_has(dict_venv: VecEnv) -> None:
    with pytest.raises(KeyError, match=r"no key 'goal'.*'achieved_goal', 'desired_goal', 'observation'"):
        VecExtractDictObs(dict_venv, "goal")
    with pytest.raises(TypeError, match=r"needs a Dict observation space, got Box"):
        VecExtractDictObs(VecExtractDictObs(dict_venv, "observation"), "observation")


# ---- baselines' make_robotics_env ------------------------------------------------------------------------------


@requires_robotics
def test_make_robotics_env_flattens_observation_and_goal_and_reports_success() -> None:
    env = make_robotics_env(ENV_ID, seed=SEED)
    again = make_robotics_env(ENV_ID, seed=SEED)
    try:
        assert env.observation_space.shape == (13,)  # observation 10 + desired goal 3, baselines' layout
        first, _ = env.reset()
        np.testing.assert_array_equal(first, again.reset()[0])
        raw = env.unwrapped._get_obs()  # the Dict observation behind it: observation first, then the goal
        np.testing.assert_array_equal(first, np.concatenate([raw["observation"], raw["desired_goal"]]))
        env.action_space.seed(0)
        for _ in range(EPISODE_STEPS):
            _obs, _reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert truncated and not terminated
        assert info["episode"]["l"] == EPISODE_STEPS and "is_success" in info["episode"]
    finally:
        env.close()
        again.close()


# ---- the CLI -----------------------------------------------------------------------------------------------------


def goal_env_error(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run main(argv) in-process, expecting a usage error (exit 2); its one-line message."""
    previous_dir = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(SystemExit) as exit_:
            run_cli.main([*argv, "--num_timesteps=0", f"--log_path={tmp_path / 'run'}"])
    finally:
        os.chdir(previous_dir)
        logger.reset()
    stderr = capsys.readouterr().err
    assert exit_.value.code == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("python -m baselines_tf2.run: error:"), stderr[-2000:]
    return line


def assert_names_the_goal_env_problem(line: str, alg: str) -> None:
    assert re.search(rf"--alg={alg} needs goal-based observations .*observation, achieved_goal, desired_goal", line)
    assert "CartPole-v1 does not: its observations are Box(" in line
    assert "FetchReach-v4" in line and ROBOTICS_EXTRA in line


def test_her_refuses_an_env_without_goals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # CartPole's Discrete actions would fail the continuous-actions check too: the goal check comes first
    line = goal_env_error(["--alg=her", "--env=CartPole-v1"], tmp_path, capsys)
    assert_names_the_goal_env_problem(line, "her")


@requires_robotics
def test_build_env_keeps_dict_observations_for_the_algorithms_that_take_them() -> None:
    args = run_cli.run_arg_parser().parse_args([f"--env={ENV_ID}", "--num_env=1"])
    with run_cli.build_env(args, "robotics", ALGORITHMS["her"], seed=SEED) as venv:
        assert isinstance(venv.observation_space, gymnasium.spaces.Dict)
        assert set(venv.reset()) == set(GOAL_SHAPES)
    with run_cli.build_env(args, "robotics", ALGORITHMS["ppo2"], seed=SEED) as venv:
        assert venv.observation_space.shape == (16,)


def test_the_command_line_help_knows_robotics_envs() -> None:
    help_text = " ".join(run_cli.run_arg_parser().format_help().split())
    assert "FetchReach-v4" in help_text and ROBOTICS_EXTRA in help_text
    assert re.search(r"--env_type ENV_TYPE .*robotics", help_text)
