"""baselines' run.py functions, called from Python the way baselines code (and its tests) called them."""

from __future__ import annotations

from pathlib import Path

import pytest

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import common_arg_parser
from baselines_tf2.common.vec_env import VecEnv
from baselines_tf2.deepq import deepq
from baselines_tf2.ppo2 import defaults as ppo2_defaults
from baselines_tf2.run import (
    build_env,
    configure_logger,
    get_alg_module,
    get_default_network,
    get_learn_function,
    get_learn_function_defaults,
    parse_cmdline_kwargs,
    train,
)


def test_train_builds_the_env_and_calls_learn_with_the_merged_arguments(tmp_path: Path) -> None:
    """baselines' run.main: parse_known_args, parse_cmdline_kwargs on the rest, train(args, extra_args)."""
    args, unknown = common_arg_parser().parse_known_args(
        ["--alg=ppo2", "--env=CartPole-v1", "--num_timesteps=256", "--num_env=2", "--seed=1", "--nsteps=64",
         "--num_hidden=8"])
    extra_args = parse_cmdline_kwargs(unknown)
    assert extra_args == {"nsteps": 64, "num_hidden": 8}
    configure_logger(str(tmp_path))
    model, env = train(args, extra_args)
    try:
        assert isinstance(env, VecEnv) and env.num_envs == 2
        assert model.timesteps == 256
        assert model.policy.description["network_kwargs"] == {"num_hidden": 8}
    finally:
        env.close()
        logger.configure(format_strs=[])
    assert (tmp_path / "progress.csv").is_file()


def test_train_records_videos_into_the_logger_folder_when_asked(tmp_path: Path) -> None:
    """baselines' train wrapped the env in a VecVideoRecorder when --save_video_interval was nonzero."""
    args, unknown = common_arg_parser().parse_known_args(
        ["--alg=ppo2", "--env=BreakoutNoFrameskip-v4", "--num_timesteps=128", "--num_env=2", "--seed=0",
         "--save_video_interval=40", "--save_video_length=5", "--nsteps=32", "--nminibatches=2"])
    configure_logger(str(tmp_path))
    try:
        _model, env = train(args, parse_cmdline_kwargs(unknown))
        env.close()
    finally:
        logger.configure(format_strs=[])
    videos = sorted(path.name for path in (tmp_path / "videos").iterdir())
    # 64 vector steps: recordings start at vector steps 0 and 40
    assert videos == ["video-000000000-000000004.mp4", "video-000000040-000000044.mp4"]


def test_train_asked_for_videos_without_a_logger_folder_says_so() -> None:
    args = common_arg_parser().parse_args(["--alg=ppo2", "--env=CartPole-v1", "--save_video_interval=10"])
    logger.reset()  # the logger before any configure(): stdout only, no folder
    assert logger.get_dir() is None
    with pytest.raises(ValueError, match="save_video_interval=10 records videos into the logger's folder"):
        train(args, {})


def test_build_env_takes_baselines_single_argument() -> None:
    args = common_arg_parser().parse_args(["--alg=a2c", "--env=CartPole-v1", "--num_env=3"])
    env = build_env(args)
    try:
        assert env.num_envs == 3 and env.observation_space.shape == (4,)
    finally:
        env.close()


def test_algorithm_lookups_follow_baselines_module_layout() -> None:
    assert get_learn_function("deepq") is deepq.learn
    assert get_alg_module("ppo2", "defaults") is ppo2_defaults
    assert get_learn_function_defaults("ppo2", "atari") == ppo2_defaults.atari()
    assert get_learn_function_defaults("ppo2", "classic_control") == {}
    assert get_learn_function_defaults("ddpg", "mujoco") == {}  # no defaults module, as in baselines
    assert (get_default_network("atari"), get_default_network("mujoco")) == ("cnn", "mlp")
    with pytest.raises(ValueError, match="unknown algorithm 'acktr'; valid: .*ppo2"):
        get_alg_module("acktr")


def test_parse_unknown_args_is_where_baselines_run_py_imported_it_and_gives_strings() -> None:
    """baselines' run.py: `from baselines.common.cmd_util import common_arg_parser, parse_unknown_args, ...`; its
    parse_cmdline_kwargs asserted each value was a string before evaluating it."""
    from baselines_tf2.common.cmd_util import UsageError, parse_unknown_args

    _args, unknown = common_arg_parser().parse_known_args(
        ["--alg=ppo2", "--env=CartPole-v1", "--nsteps=64", "--lr", "2.5e-4", "--value_network=copy",
         "--layers=[64, 64]"])
    parsed = parse_unknown_args(unknown)
    assert parsed == {"nsteps": "64", "lr": "2.5e-4", "value_network": "copy", "layers": "[64, 64]"}
    assert parse_cmdline_kwargs(unknown) == {"nsteps": 64, "lr": 2.5e-4, "value_network": "copy", "layers": [64, 64]}
    with pytest.raises(UsageError, match="unexpected argument 'stray'"):
        parse_unknown_args(["stray"])
    with pytest.raises(UsageError, match="--lr needs a value"):
        parse_unknown_args(["--lr"])
