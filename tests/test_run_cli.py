"""The command line: usage errors exit 2 naming the problem; tiny ppo2/a2c runs write baselines' outputs; play.py.

Every subprocess pays TensorFlow's import, so the commands of each group run concurrently.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from pathlib import Path

import gymnasium
import pytest
from cli_helpers import PLAY, RUN, Finished, run_concurrently, run_in_process

from baselines_tf2.algorithms import ALGORITHMS
from baselines_tf2.nn.tf_util import resolve_precision
from baselines_tf2.run import TF_THREAD_VARIABLES, limit_tensorflow_threads, tensorflow_threads, unwritable_reason
from baselines_tf2.training.checkpoint import read_metadata

TIMEOUT_S = 120


# name -> (extra CLI arguments, regexes the error message must contain). Every case also gets --num_timesteps=0
# first (a later --num_timesteps wins), so a check that stops working shows up as exit 0, not as a long run.
# {tmp} is a scratch folder, {file} a regular file in it, {checkpoint} a ppo2 CartPole checkpoint, {corrupt} a
# truncated copy of it.
USAGE_ERRORS = {
    "unknown_alg": (["--alg=ppo3"], [r"unknown algorithm 'ppo3'", r"valid: a2c, ddpg, deepq, her, ppo2, sac, td3"]),
    "unknown_env": (["--env=CartPol-v1"], [r"unknown environment id 'CartPol-v1'", r"did you mean CartPole-v1"]),
    "unknown_network": (["--env=CartPole-v1", "--network=mlpp"], [r"unknown network 'mlpp'", r"valid: .*\bmlp\b"]),
    "unknown_hyperparameter": (
        ["--env=CartPole-v1", "--foo=1"],
        [r"unknown option\(s\) for --alg=ppo2.*--foo", r"valid: .*\bnminibatches\b.*\bnum_hidden\b"],
    ),
    "zero_nminibatches": (["--env=CartPole-v1", "--nminibatches=0"], [r"nminibatches must be an integer >= 1, got 0"]),
    "gamma_too_big": (["--env=CartPole-v1", "--gamma=2"], [r"gamma must be a number in \[0, 1\], got 2"]),
    "stray_argument": (["--env=CartPole-v1", "stray"], [r"unexpected argument 'stray'", r"--name=value"]),
    "negative_timesteps": (["--env=CartPole-v1", "--num_timesteps=-1"], [r"--num_timesteps must be between 0 and"]),
    "nan_timesteps": (["--env=CartPole-v1", "--num_timesteps=nan"], [r"--num_timesteps must be between 0 and"]),
    "huge_timesteps": (["--env=CartPole-v1", "--num_timesteps=1e30"], [r"--num_timesteps must be between 0 and"]),
    "negative_seed": (["--env=CartPole-v1", "--seed=-1"], [r"--seed must be between 0 and 2\*\*32 - 1"]),
    "zero_play_episodes": (["--env=CartPole-v1", "--play", "--play_episodes=0"], [r"--play_episodes must be >= 1"]),
    "unknown_precision": (["--env=CartPole-v1", "--precision=float16"], [r"--precision: invalid choice: 'float16'"]),
    "negative_video_interval": (["--env=CartPole-v1", "--save_video_interval=-5"], [r"--save_video_interval.*>= 0"]),
    "zero_video_length": (["--env=CartPole-v1", "--save_video_length=0"], [r"--save_video_length.*>= 1"]),
    # hyperparameters out of range, checked by the config dataclasses
    "ppo2_negative_lr": (["--env=CartPole-v1", "--lr=-0.001"], [r"\blr must be a number > 0, got -0.001"]),
    "a2c_zero_lr": (["--alg=a2c", "--env=CartPole-v1", "--lr=0"], [r"\blr must be a number > 0, got 0"]),
    "deepq_negative_lr": (["--alg=deepq", "--env=CartPole-v1", "--lr=-0.1"], [r"\blr must be a number > 0, got -0.1"]),
    "lam_out_of_range": (["--env=CartPole-v1", "--lam=1.5"], [r"\blam must be a number in \[0, 1\], got 1.5"]),
    "zero_cliprange": (["--env=CartPole-v1", "--cliprange=0"], [r"\bcliprange must be a number > 0, got 0"]),
    "zero_noptepochs": (["--env=CartPole-v1", "--noptepochs=0"], [r"\bnoptepochs must be an integer >= 1, got 0"]),
    "negative_ent_coef": (["--env=CartPole-v1", "--ent_coef=-0.1"], [r"\bent_coef must be a number >= 0, got -0.1"]),
    "a2c_zero_max_grad_norm": (
        ["--alg=a2c", "--env=CartPole-v1", "--max_grad_norm=0"], [r"\bmax_grad_norm must be a number > 0, got 0"]
    ),
    "buffer_smaller_than_batch": (
        ["--alg=deepq", "--env=CartPole-v1", "--buffer_size=16", "--batch_size=32"],
        [r"\bbuffer_size \(16\) must be at least batch_size \(32\)"],
    ),
    "exploration_fraction_too_big": (
        ["--alg=deepq", "--env=CartPole-v1", "--exploration_fraction=1.5"],
        [r"\bexploration_fraction must be a number in \[0, 1\], got 1.5"],
    ),
    "nminibatches_not_dividing_the_batch": (
        ["--env=CartPole-v1", "--num_env=2", "--nsteps=5", "--nminibatches=4"],
        [r"--nminibatches=4", r"5 \* 2 = 10 is not divisible", r"divisor of 10 \(1, 2, 5, 10\)"],
    ),
    # values of the wrong type
    "word_for_lr": (["--env=CartPole-v1", "--lr=fast"], [r"\blr must be a number or a callable.*, got 'fast'"]),
    "word_for_network_option": (
        ["--env=CartPole-v1", "--num_hidden=big"], [r"--network=mlp: num_hidden must be an integer >= 1, got 'big'"]
    ),
    "word_for_num_env": (["--env=CartPole-v1", "--num_env=two"], [r"--num_env: invalid int value: 'two'"]),
    "zero_num_env": (["--env=CartPole-v1", "--num_env=0"], [r"--num_env must be >= 1, got 0"]),
    # an env the algorithm cannot handle
    "deepq_continuous_actions": (
        ["--alg=deepq", "--env=Pendulum-v1"], [r"--alg=deepq needs a Discrete action space", r"Pendulum-v1 has Box\("]
    ),
    **{f"{alg}_discrete_actions": (
        [f"--alg={alg}", "--env=CartPole-v1"],
        [rf"--alg={alg} needs a continuous \(Box\) action space", r"CartPole-v1 has Discrete\(2\)"],
    ) for alg in ("ddpg", "td3", "sac")},
    "ddpg_malformed_noise_type": (
        ["--alg=ddpg", "--env=Pendulum-v1", "--noise_type=gaussian_0.2"],
        [r"bad hyperparameter: unknown noise_type 'gaussian_0.2'", r"valid: none, normal_<sigma>, ou_<sigma>"],
    ),
    "sac_bad_ent_coef": (
        ["--alg=sac", "--env=Pendulum-v1", "--ent_coef=-1"], [r"ent_coef must be 'auto', 'auto_<initial value>'"]
    ),
    "deepq_recurrent_network": (
        ["--alg=deepq", "--env=CartPole-v1", "--network=lstm"], [r"--alg=deepq trains feed-forward networks only"]
    ),
    "cnn_on_vector_observations": (
        ["--env=CartPole-v1", "--network=cnn"], [r"network 'cnn' needs image observations"]
    ),
    "env_of_another_type": (
        ["--env=CartPole-v1", "--env_type=atari"], [r"--env=CartPole-v1 cannot be made \(env type atari\)",
                                                     r"not an Atari \(ale-py\) game"]
    ),
    # options that cannot work together or with the env, found by learn() before it trains
    "deepq_empty_buffer": (
        ["--alg=deepq", "--env=CartPole-v1", "--buffer_size=0", "--num_timesteps=100"],
        [r"buffer_size=0 keeps no transitions to train on"],
    ),
    # buffers larger than the machine's memory: refused before they are allocated (a MemoryError traceback, or
    # an OOM kill as a lazily mapped buffer fills, before)
    "deepq_buffer_beyond_memory": (
        ["--alg=deepq", "--env=CartPole-v1", "--buffer_size=1e12", "--prioritized_replay=True", "--num_timesteps=100"],
        [r"a prioritized replay buffer of 1,000,000,000,000 transitions \(buffer_size\) needs [\d,.]+ GiB, more than "
         r"this machine's [\d,.]+ GiB of memory"],
    ),
    "sac_buffer_beyond_memory": (
        ["--alg=sac", "--env=Pendulum-v1", "--buffer_size=1e12", "--num_timesteps=100"],
        [r"a replay memory of 1,000,000,000,000 transitions .* needs [\d,.]+ GiB, more than this machine's"],
    ),
    "a2c_rollout_beyond_memory": (
        ["--alg=a2c", "--env=CartPole-v1", "--nsteps=1e12", "--num_timesteps=100"],
        [r"a rollout of 1,000,000,000,000 steps x \d+ envs .* needs [\d,.]+ GiB, more than this machine's"],
    ),
    "ddpg_epochs_and_timesteps": (
        ["--alg=ddpg", "--env=Pendulum-v1", "--nb_epochs=2"], [r"--num_timesteps.* or nb_epochs, not both"]
    ),
    **{f"her_{case}": (["--alg=her", "--env=FetchReach-v4", option], [pattern]) for case, option, pattern in (
        ("less_than_an_epoch", "--num_timesteps=100", r"total_timesteps=100 is less than one epoch"),
        ("override_params_not_a_dict", "--override_params=5", r"override_params must be a dict"),
        ("bc_loss_without_demonstrations", "--bc_loss=True", r"bc_loss clones demonstrations: give demo_file"),
        ("missing_demo_file", "--demo_file={tmp}/missing.npz", r"demo_file .*missing.npz.* cannot"),
        ("image_network", "--network=cnn", r"her trains baselines' actor-critic MLP"),
    )},
    # output paths that cannot be written
    "log_path_is_a_file": (["--env=CartPole-v1", "--log_path={file}"], [r"--log_path=.*is a file, not a directory"]),
    "log_path_under_a_file": (
        ["--env=CartPole-v1", "--log_path={file}/logs"], [r"--log_path=.*/logs cannot hold.*is a file"]
    ),
    "save_path_is_a_directory": (["--env=CartPole-v1", "--save_path={tmp}"], [r"--save_path=.*is a directory"]),
    # checkpoints that are missing, corrupt, or do not match the run
    "load_path_missing": (["--env=CartPole-v1", "--load_path={tmp}/missing"], [r"--load_path: no checkpoint at"]),
    "load_path_corrupt": (["--env=CartPole-v1", "--load_path={corrupt}"], [r"--load_path: .*truncated/corrupt"]),
    "load_path_other_observation_space": (
        ["--env=Acrobot-v1", "--num_env=1", "--load_path={checkpoint}"],
        [r"--load_path does not fit --env=Acrobot-v1", r"observation space Box\(shape=\(4,\).*Box\(shape=\(6,\)"],
    ),
    "load_path_other_alg": (
        ["--alg=a2c", "--env=CartPole-v1", "--load_path={checkpoint}"],
        [r"--load_path: .*'ppo2' checkpoint, not one of --alg=a2c"],
    ),
    "extra_import_missing": (
        ["--env=CartPole-v1", "--extra_import=no_such_module_for_run"],
        [r"--extra_import=no_such_module_for_run cannot be imported: No module named 'no_such_module_for_run'"],
    ),
    "load_path_other_network_options": (
        ["--env=CartPole-v1", "--num_env=1", "--num_hidden=32", "--load_path={checkpoint}"],
        [r"--load_path does not fit this model: .*network_kwargs \{\}.*'num_hidden': 32"],
    ),
}


@pytest.fixture(scope="module")
def usage_error_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The files the path cases point at: a scratch folder, a regular file, a checkpoint and a corrupt copy."""
    from baselines_tf2.nn.policies import PolicyWithValue
    from baselines_tf2.ppo2.model import PPO2Model

    root = tmp_path_factory.mktemp("cli_error_paths")
    env = gymnasium.make("CartPole-v1")
    checkpoint = root / "cartpole_ppo2"
    policy = PolicyWithValue(env.observation_space, env.action_space, "mlp", {})
    PPO2Model(policy, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5).save(str(checkpoint))
    (root / "corrupt").write_bytes(checkpoint.read_bytes()[:200])
    (root / "file").write_text("not a folder")
    paths = {"tmp": root, "file": root / "file", "checkpoint": checkpoint, "corrupt": root / "corrupt"}
    return {name: str(path) for name, path in paths.items()}


def _assert_usage_error(result: Finished, case: str) -> None:
    """Exit 2, and the last line of stderr is argparse's one-line error matching the case's patterns."""
    assert result.returncode == 2, result.stderr[-2000:]
    error_line = result.stderr.strip().splitlines()[-1]
    assert error_line.startswith("python -m baselines_tf2.run: error:"), result.stderr[-2000:]
    for pattern in USAGE_ERRORS[case][1]:
        assert re.search(pattern, error_line), (pattern, error_line)
    assert "Traceback" not in result.stderr


# Every case runs main() in-process (a subprocess per case would pay TensorFlow's import 38 times); these few also
# run as real commands, to show the exit status and the one-line error reach the shell.
AS_COMMANDS = ("unknown_alg", "stray_argument", "deepq_continuous_actions")


@pytest.mark.parametrize("case", sorted(USAGE_ERRORS))
def test_usage_error_exits_2_and_names_the_problem(usage_error_paths: dict[str, str], case: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--num_timesteps=0"] + [arg.format(**usage_error_paths) for arg in USAGE_ERRORS[case][0]]
    _assert_usage_error(run_in_process(args, tmp_path, capsys), case)


def test_usage_errors_exit_2_from_the_command_line(usage_error_paths: dict[str, str], tmp_path: Path) -> None:
    commands = {
        case: RUN + ["--num_timesteps=0"] + [arg.format(**usage_error_paths) for arg in USAGE_ERRORS[case][0]]
        for case in AS_COMMANDS
    }
    for case, result in run_concurrently(commands, tmp_path, timeout=TIMEOUT_S).items():
        _assert_usage_error(result, case)


def test_a_folder_without_write_permission_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod does not stop root, so the permission answer is faked; a missing folder is judged by its parent."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert unwritable_reason(str(tmp_path / "new" / "logs")) == f"the directory {str(tmp_path)!r} is not writable"
    monkeypatch.undo()
    assert unwritable_reason(str(tmp_path / "new" / "logs")) is None


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Finished, Path]]:
    """A tiny ppo2 run and a tiny a2c run on CartPole, each in its own log dir; a2c's environment sets TensorFlow's
    intra-op threads, ppo2's neither count (the pytest workers set both, tests/conftest.py)."""
    root = tmp_path_factory.mktemp("cli_runs")
    commands = {
        "ppo2": RUN + ["--alg=ppo2", "--env=CartPole-v1", "--num_timesteps=2048", "--nsteps=64",
                       f"--log_path={root / 'ppo2'}", "--num_env=2", "--seed=0"],
        "a2c": RUN + ["--alg=a2c", "--env=CartPole-v1", "--num_timesteps=1000", "--nsteps=5",
                      f"--log_path={root / 'a2c'}", "--num_env=2", "--seed=0"],
    }
    no_thread_settings = dict.fromkeys(TF_THREAD_VARIABLES)
    env_changes = {"ppo2": no_thread_settings, "a2c": {**no_thread_settings, "TF_NUM_INTRAOP_THREADS": "2"}}
    results = run_concurrently(commands, root, timeout=TIMEOUT_S, env_changes=env_changes)
    return {name: (results[name], root / name) for name in commands}


def read_progress(log_dir: Path) -> list[dict[str, str]]:
    with open(log_dir / "progress.csv", newline="") as file:
        return list(csv.DictReader(file))


def check_common_outputs(log_dir: Path) -> None:
    """Monitor files of both envs with finished episodes, and a TensorBoard event file holding eprewmean."""
    monitors = sorted(path.name for path in log_dir.glob("*.monitor.csv"))
    assert monitors == ["0.0.monitor.csv", "0.1.monitor.csv"]
    for name in monitors:
        lines = (log_dir / name).read_text().splitlines()
        assert lines[0].startswith("#{") and lines[1] == "r,l,t" and len(lines) > 2
    events = list((log_dir / "tb").glob("events.out.tfevents.*"))
    assert len(events) == 1
    import tensorflow as tf

    tags = {value.tag for event in tf.compat.v1.train.summary_iterator(str(events[0])) for value in event.summary.value}
    assert "eprewmean" in tags and "fps" in tags


def test_ppo2_cli_run_writes_baselines_outputs(trained_runs: dict[str, tuple[Finished, Path]]) -> None:
    result, log_dir = trained_runs["ppo2"]
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_progress(log_dir)
    assert {"eprewmean", "fps", "loss/policy_loss", "loss/approxkl", "misc/total_timesteps"} <= set(rows[0])
    # 2048 // (64 steps * 2 envs) = 16 updates, logged at update 1 and every log_interval = 10
    assert [row["misc/total_timesteps"] for row in rows] == ["128", "1280"]
    check_common_outputs(log_dir)
    metadata = read_metadata(log_dir / "model")
    assert metadata["alg"] == "ppo2" and metadata["network"] == "mlp" and metadata["timesteps"] == 2048
    assert metadata["env"]["recipe"]["env_id"] == "CartPole-v1"
    assert metadata["precision"] == resolve_precision("auto")  # ppo2's bf16 is validated: auto may pick it


def test_a2c_cli_run_writes_baselines_outputs(trained_runs: dict[str, tuple[Finished, Path]]) -> None:
    result, log_dir = trained_runs["a2c"]
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_progress(log_dir)
    assert {"eprewmean", "fps", "policy_loss", "value_loss", "total_timesteps"} <= set(rows[0])  # a2c: bare names
    assert [row["total_timesteps"] for row in rows] == ["10", "1000"]  # updates 1 and 100 (log_interval 100)
    check_common_outputs(log_dir)
    metadata = read_metadata(log_dir / "model")
    assert metadata["alg"] == "a2c" and metadata["precision"] == "float32"  # auto keeps unvalidated algs on fp32


def test_a_cli_run_off_atari_names_the_tensorflow_threads_it_runs_on(
        trained_runs: dict[str, tuple[Finished, Path]]) -> None:
    """One intra-op and one inter-op thread for ppo2 on CartPole, as baselines' run.py set off Atari; a count the
    user set (a2c's intra-op 2) wins."""
    lines = {name: [line for line in result.stdout.splitlines() if line.startswith("training ")]
             for name, (result, _) in trained_runs.items()}
    assert all(len(found) == 1 for found in lines.values()), lines
    assert lines["ppo2"][0].endswith("; TensorFlow threads: 1 intra-op, 1 inter-op")
    assert lines["a2c"][0].endswith("; TensorFlow threads: 2 intra-op, 1 inter-op")


@pytest.mark.parametrize("alg, env_type, user_settings, expected", [
    ("ppo2", "mujoco", {}, "TensorFlow threads: 1 intra-op, 1 inter-op"),
    ("ddpg", "classic_control", {}, "TensorFlow threads: 1 intra-op, 1 inter-op"),
    ("ppo2", "atari", {}, ""),  # the Atari CNN's updates need every core
    ("deepq", "retro", {}, ""),
    ("sac", "mujoco", {}, ""),  # 256-unit networks on batches of 256: every core
    ("her", "robotics", {}, ""),
    ("ppo2", "mujoco", {"TF_NUM_INTEROP_THREADS": "2"}, "TensorFlow threads: 1 intra-op, 2 inter-op"),
    ("ppo2", "mujoco", {"TF_NUM_INTRAOP_THREADS": "0", "TF_NUM_INTEROP_THREADS": "0"},
     "TensorFlow threads: all intra-op, all inter-op"),  # 0: TensorFlow's default, every core
])
def test_tensorflow_gets_one_thread_off_atari_unless_set_or_the_algorithm_keeps_every_core(
        alg: str, env_type: str, user_settings: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in TF_THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in user_settings.items():
        monkeypatch.setenv(variable, value)
    limit_tensorflow_threads(env_type, ALGORITHMS[alg])
    assert tensorflow_threads() == expected
    for variable, value in user_settings.items():
        assert os.environ[variable] == value


@pytest.fixture(scope="module")
def play_results(trained_runs: dict[str, tuple[Finished, Path]], tmp_path_factory: pytest.TempPathFactory
                 ) -> dict[str, Finished]:
    root = tmp_path_factory.mktemp("cli_play")
    model = trained_runs["ppo2"][1] / "model"
    if not model.exists():
        pytest.fail("the ppo2 CLI run wrote no model")
    corrupt = root / "corrupt_model"
    corrupt.write_bytes(model.read_bytes()[:200])
    return run_concurrently(
        {"good": PLAY + [str(model), "--episodes", "2", "--seed", "0"], "corrupt": PLAY + [str(corrupt)]}, root,
        timeout=TIMEOUT_S,
    )


def test_play_scores_the_saved_model(play_results: dict[str, Finished]) -> None:
    result = play_results["good"]
    assert result.returncode == 0, result.stderr[-3000:]
    scores = [line for line in result.stdout.splitlines() if line.startswith("episode ")]
    assert len(scores) == 2 and scores[0].startswith("episode 1: score") and scores[1].startswith("episode 2: score")
    assert "mean score over 2 episodes" in result.stdout


def test_play_on_a_corrupt_file_exits_2_with_a_clear_message(play_results: dict[str, Finished]) -> None:
    result = play_results["corrupt"]
    assert result.returncode == 2
    assert "play.py: error:" in result.stderr and "truncated/corrupt" in result.stderr
    assert "Traceback" not in result.stderr


def test_openai_logdir_is_the_run_folder_without_log_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """baselines' docs: OPENAI_LOGDIR=... python -m baselines.run ... logs there (logger.configure() read it)."""
    monkeypatch.setenv("OPENAI_LOGDIR", str(tmp_path / "logs" / "cartpole-ppo"))
    finished = run_in_process(["--alg=ppo2", "--env=CartPole-v1", "--num_env=1", "--num_timesteps=256",
                                "--nsteps=128", "--seed=0"], tmp_path, capsys)
    assert finished.returncode == 0, finished.stderr
    assert (tmp_path / "logs" / "cartpole-ppo" / "progress.csv").is_file()
    assert not (tmp_path / "runs").exists()
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("OPENAI_LOGDIR", str(tmp_path / "a_file"))
    refused = run_in_process(["--alg=ppo2", "--env=CartPole-v1", "--num_timesteps=0"], tmp_path, capsys)
    assert refused.returncode == 2
    assert "OPENAI_LOGDIR=" in refused.stderr and "cannot hold the run's logs" in refused.stderr


def test_extra_import_registers_envs_before_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """baselines' --extra_import: a module that registers an env is imported before --env is looked up."""
    (tmp_path / "cli_registering_envs.py").write_text(
        "import gymnasium\n"
        "gymnasium.register(id='CliCartPole-v0', entry_point='gymnasium.envs.classic_control:CartPoleEnv',"
        " max_episode_steps=20)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        finished = run_in_process(["--alg=ppo2", "--env=CliCartPole-v0", "--extra_import=cli_registering_envs",
                                    "--num_timesteps=0"], tmp_path, capsys)
    finally:
        sys.modules.pop("cli_registering_envs", None)
        gymnasium.registry.pop("CliCartPole-v0", None)
    assert finished.returncode == 0, finished.stderr[-2000:]
    [run_dir] = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("ppo2-CliCartPole-v0-")  # --env as given, the module only where envs are made


def test_a_new_run_into_a_folder_holding_checkpoints_is_refused(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A second run into one --log_path would prune and re-point the first run's checkpoints: refused, naming
    --load_path; resuming with --load_path, or --num_timesteps=0, is fine."""
    run = ["--alg=ppo2", "--env=CartPole-v1", "--num_env=1", "--nsteps=64", "--seed=0",
           f"--log_path={tmp_path / 'run'}"]
    assert run_in_process([*run, "--num_timesteps=64"], tmp_path, capsys).returncode == 0
    refused = run_in_process([*run, "--num_timesteps=64"], tmp_path, capsys)
    assert refused.returncode == 2
    assert f"already holds a run with checkpoints; resume it with --load_path={tmp_path / 'run'}" in refused.stderr
    resumed = run_in_process([*run, "--num_timesteps=128", f"--load_path={tmp_path / 'run'}"], tmp_path, capsys)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert run_in_process([*run, "--num_timesteps=0"], tmp_path, capsys).returncode == 0  # trains nothing


def test_resuming_without_log_path_goes_on_in_the_loaded_run_folder(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The stop message's hint (the same command plus --load_path=<run folder>) continues that folder: its
    checkpoints, progress.csv and monitor files; no second default folder is made."""
    run = ["--alg=ppo2", "--env=CartPole-v1", "--num_env=1", "--nsteps=64", "--seed=0"]
    assert run_in_process([*run, "--num_timesteps=64"], tmp_path, capsys).returncode == 0
    [run_dir] = (tmp_path / "runs").iterdir()
    for load_path in (run_dir, run_dir / "checkpoints", run_dir / "checkpoints" / "00001"):
        resumed = run_in_process([*run, "--num_timesteps=64", f"--load_path={load_path}"], tmp_path, capsys)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert list((tmp_path / "runs").iterdir()) == [run_dir]
    assert sorted(path.name for path in (run_dir / "checkpoints").iterdir()) == ["00001", "00002", "00003",
                                                                                 "00004", "latest"]
    assert len((run_dir / "progress.csv").read_text().splitlines()) == 1 + 4  # the header, one row per update


def test_a_log_path_starting_with_tilde_is_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """~ in --log_path is expanded as in --save_path and --load_path, so the run-folder checks see that folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    run = ["--alg=ppo2", "--env=CartPole-v1", "--num_env=1", "--nsteps=64", "--seed=0", "--num_timesteps=64",
           "--log_path=~/cartpole"]
    assert run_in_process(run, tmp_path, capsys).returncode == 0
    assert (tmp_path / "home" / "cartpole" / "checkpoints" / "latest").is_file()
    assert not (tmp_path / "~").exists()
    refused = run_in_process(run, tmp_path, capsys)
    assert refused.returncode == 2 and "already holds a run with checkpoints" in refused.stderr
