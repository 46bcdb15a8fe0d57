"""Review of ddpg, td3, sac, her and the shared off-policy core (session 22): hindsight replay options that cannot
work are usage errors before anything trains (a bad replay_buffer_kwargs or HER on an env without goals was a
traceback; a HER buffer smaller than one episode per env trained nothing, silently); so is a replay memory smaller
than learning_starts (DDPG: batch_size), which also trained nothing; scaled actions stay within the action space's
bounds under float32 rounding; SAC's step takes S and M by keyword only, as the other agents'."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import gymnasium_robotics
import pytest
from cli_helpers import run_in_process

from baselines_tf2.common.validation import ArgumentError

gymnasium.register_envs(gymnasium_robotics)

SMALL = dict(num_hidden=8, num_layers=1)


@pytest.mark.parametrize("argv, message", [
    (["--alg=td3", "--env=Pendulum-v1", "--replay_buffer_class=HerReplayBuffer", "--num_hidden=8"],
     "needs a goal-based env"),
    (["--alg=sac", "--env=FetchReach-v4", "--replay_buffer_kwargs={'bogus': 1}"], "unknown replay_buffer_kwargs"),
    (["--alg=sac", "--env=FetchReach-v4", "--replay_buffer_kwargs={'n_sampled_goal': -1}"], "n_sampled_goal"),
    (["--alg=td3", "--env=FetchReach-v4", "--replay_buffer_kwargs={'goal_selection_strategy': 'later'}"],
     "goal_selection_strategy 'later'"),
    (["--alg=sac", "--env=FetchReach-v4", "--buffer_size=40", "--learning_starts=10", "--num_hidden=8"],
     "less than one episode of 50 steps"),
    (["--alg=sac", "--env=FetchReach-v4", "--num_env=2", "--buffer_size=60", "--learning_starts=10", "--num_hidden=8"],
     "holds 30 steps per env (2 envs), less than one episode of 50 steps"),
    (["--alg=her", "--env=FetchReach-v4", "--n_cycles=1", "--buffer_size=40", "--hidden=8"],
     "less than one episode of 50 steps"),
])
def test_hindsight_replay_options_that_cannot_work_exit_2(argv: list[str], message: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_in_process([*argv, "--num_timesteps=100", f"--log_path={tmp_path / 'run'}"], tmp_path, capsys)
    assert status == 2, err[-2000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("python -m baselines_tf2.run: error:") and message in last, last


@pytest.mark.parametrize("alg", ["sac", "td3", "her"])
def test_a_hindsight_buffer_smaller_than_an_episode_is_refused_not_left_untrained(alg: str) -> None:
    # FetchReach-v4's episodes have 50 steps; a buffer of 40 never held an ended episode, so no update ever ran
    from baselines_tf2.her import her
    from baselines_tf2.sac import sac
    from baselines_tf2.td3 import td3

    env = gymnasium.make("FetchReach-v4")
    with pytest.raises(ArgumentError, match="less than one episode of 50 steps"):
        if alg == "her":
            her.learn(network="mlp", env=env, total_timesteps=100, seed=0, buffer_size=40, n_cycles=1, hidden=8,
                      layers=1, n_batches=1, batch_size=8)
        else:
            learn = sac.learn if alg == "sac" else td3.learn
            learn("mlp", env, seed=0, total_timesteps=100, buffer_size=40, batch_size=8, learning_starts=10,
                  replay_buffer_class="HerReplayBuffer", **SMALL)


@pytest.mark.parametrize("alg", ["ddpg", "td3", "sac"])
def test_scaled_actions_stay_within_bounds_that_float32_rounds(alg: str) -> None:
    # -2 + (1 + 1) * 0.5 * (0.2 - -2) is 0.20000005 in float32: a saturated actor's action was outside the space
    import numpy as np

    from baselines_tf2.ddpg.ddpg import DDPG, DDPGConfig
    from baselines_tf2.sac.sac import SAC, SACConfig
    from baselines_tf2.td3.td3 import TD3, TD3Config

    agent_class, config_class = {"ddpg": (DDPG, DDPGConfig), "td3": (TD3, TD3Config), "sac": (SAC, SACConfig)}[alg]
    action_space = gymnasium.spaces.Box(np.array([-2.0, -0.3], np.float32), np.array([0.2, 0.7], np.float32))
    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
    agent = agent_class(observation_space, action_space, "mlp", SMALL, config_class())
    scaled = agent.scale_actions(np.array([[1.0, 1.0], [-1.0, -1.0], [0.0, 0.0]], np.float32))
    assert all(action_space.contains(action) for action in scaled), scaled
    np.testing.assert_allclose(scaled[0], [0.2, 0.7], rtol=1e-6)
    np.testing.assert_allclose(scaled[1], [-2.0, -0.3], rtol=1e-6)


def test_sac_step_takes_state_and_mask_by_keyword_only_as_the_other_agents() -> None:
    # baselines' DDPG called step(obs, apply_noise, compute_Q); SAC bound those to S and M and answered silently
    import numpy as np

    from baselines_tf2.sac.sac import SAC, SACConfig

    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
    agent = SAC(observation_space, gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32), "mlp", SMALL, SACConfig(),
                seed=0)
    obs = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError):
        agent.step(obs, True, False)
    actions, values, state, _ = agent.step(obs, S=None, M=np.zeros(2, bool))
    assert actions.shape == (2, 1) and values is None and state is None


@pytest.mark.parametrize("alg, arguments, message", [
    ("td3", dict(buffer_size=100, learning_starts=200), "learning_starts=200: .* buffer_size=100 .* >= 200"),
    ("sac", dict(buffer_size=100, learning_starts=200), "learning_starts=200: .* buffer_size=100 .* >= 200"),
    ("ddpg", dict(buffer_size=20, batch_size=32), "batch_size=32: .* buffer_size=20 .* >= 32"),
])
def test_a_replay_memory_that_never_reaches_learning_starts_is_refused(alg: str, arguments: dict[str, int],
                                                                       message: str) -> None:
    # updates wait for learning_starts transitions in memory (DDPG's: a batch); a smaller memory never held them,
    # and the run ended with an untrained agent
    from baselines_tf2.ddpg import ddpg
    from baselines_tf2.sac import sac
    from baselines_tf2.td3 import td3

    learn = {"td3": td3.learn, "sac": sac.learn, "ddpg": ddpg.learn}[alg]
    with pytest.raises(ArgumentError, match=message):
        learn("mlp", gymnasium.make("Pendulum-v1"), seed=0, total_timesteps=300, **arguments, **SMALL)


def test_a_replay_memory_smaller_than_learning_starts_is_a_usage_error(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_in_process(["--alg=td3", "--env=Pendulum-v1", "--num_timesteps=300", "--buffer_size=100",
                           "--learning_starts=200", "--num_hidden=8", f"--log_path={tmp_path / 'run'}"], tmp_path,
                          capsys)
    assert status == 2 and "Traceback" not in err
    assert "nothing would ever train" in err.strip().splitlines()[-1]


@pytest.mark.parametrize("alg", ["td3", "sac"])
def test_periodic_evaluation_without_an_env_to_evaluate_on_is_refused(alg: str) -> None:
    """`eval_freq` from Python without `eval_env` was silently ignored: the user expected evaluations and best
    models that never came."""
    from baselines_tf2.run import get_learn_function

    with pytest.raises(ArgumentError, match="eval_freq=100 needs an eval_env"):
        get_learn_function(alg)(network="mlp", env=gymnasium.make("Pendulum-v1"), total_timesteps=200,
                                eval_freq=100, num_hidden=8)
