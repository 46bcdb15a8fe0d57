"""`python -m baselines_tf2.run --alg=ppo2 --env=BreakoutNoFrameskip-v4`: baselines' command line.

Extra hyperparameters come as `--name=value` (Python literals, never evaluated as code); the env type's defaults
come from the algorithm's `defaults.py`. Usage errors print a message naming what is valid and exit with status 2.
`mpiexec -n N python -m baselines_tf2.run --alg=ppo2 ...` trains PPO2, A2C or DDPG data-parallel on N ranks
(docs/distributed.md).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime
import importlib
import inspect
import os
import signal
import sys
import tempfile
from typing import Any, Sequence, overload

import gymnasium

from baselines_tf2 import logger
from baselines_tf2.algorithms import ALGORITHMS, AlgorithmEntry
from baselines_tf2.common.cmd_util import (
    ROBOTICS_EXTRA,
    UsageError,
    common_arg_parser,
    make_vec_env,
    parse_unknown_args,
)
from baselines_tf2.common.cmd_util import get_env_type as env_type_of
from baselines_tf2.common.mpi_util import DistributedEnvError, abort_on_failure, world
from baselines_tf2.common.retro_wrappers import check_retro_game
from baselines_tf2.common.validation import ArgumentError
from baselines_tf2.common.vec_env import (
    VecEnv,
    VecEnvError,
    VecEnvWorkerError,
    VecFrameStack,
    VecNormalize,
    VecVideoRecorder,
)
from baselines_tf2.off_policy.goals import GOAL_KEYS, describe_goal_space_problem, is_goal_space
from baselines_tf2.training.checkpoint import CHECKPOINTS_SUBDIR, CheckpointError, read_metadata
from baselines_tf2.training.checkpoint_dir import DEFAULT_KEEP, CheckpointDirectory
from baselines_tf2.training.nonfinite import DEFAULT_MAX_NONFINITE_UPDATES, NonFiniteUpdateError
from baselines_tf2.training.progress import progress_interval
from baselines_tf2.training.run import RunOptions
from baselines_tf2.training.stop_signals import TrainingInterrupted

ATARI_NUM_ENV = 8  # the published Atari PPO2/A2C results use 8 envs; elsewhere the default is one per core
CHECKPOINT_EVERY_STEPS = 100_000  # default spacing of periodic checkpoints in CLI runs
EVAL_SEED_OFFSET = 100_000  # evaluation envs play other games than the training envs


DEFAULT_NETWORKS = {"atari": "cnn", "retro": "cnn"}  # everything else: mlp
FRAME_STACKED_ENV_TYPES = ("atari", "retro")  # image envs whose VecEnv stacks 4 frames, as baselines' run.py
TF_THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")  # read by TensorFlow at its first op
RUN_OPTIONS = frozenset(field.name for field in dataclasses.fields(RunOptions))  # what every learn() takes
MAX_TIMESTEPS = 10**15  # far beyond any run (10M steps take hours here); bounds what counters and schedules see
RUN_FLAGS = ("keep_checkpoints", "max_nonfinite_updates", "deterministic", "save_replay")  # CLI flags for learn()
STEP_FREE_BOUNDS = ("max_iters", "max_episodes", "max_seconds")  # end a run with --num_timesteps=0 (trpo_mpi, ppo1)


def budget(total_timesteps: int, extra: dict[str, Any]) -> str:
    """'for N steps', or what else ends the run: 'until max_iters=3'."""
    if total_timesteps > 0:
        return f"for {total_timesteps} steps"
    return "until " + ", ".join(f"{bound}={extra[bound]}" for bound in STEP_FREE_BOUNDS if extra.get(bound))


def trains(args: argparse.Namespace, extra: dict[str, Any]) -> bool:
    """Whether the command trains: a step budget, or baselines' other bounds (`--num_timesteps=0 --max_iters=N`)."""
    return args.num_timesteps > 0 or any(extra.get(bound) for bound in STEP_FREE_BOUNDS)


def network_keys(network: str) -> set[str]:
    """Keyword arguments the network builder takes."""
    from baselines_tf2.nn.models import get_network_builder

    builder = get_network_builder(network)
    parameters = inspect.signature(inspect.unwrap(builder)).parameters.values()
    return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def default_run_dir(alg: str, env_id: str) -> str:
    """runs/<alg>-<env>-<time>: one folder per run for logs, monitor files, TensorBoard and checkpoints."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{alg}-{env_id.replace('/', '_')}-{stamp}")


def run_folder(args: argparse.Namespace, load_path: Any = None, training: bool | None = None) -> tuple[str, str]:
    """The run's folder and the flag or variable that chose it: --log_path, else $OPENAI_LOGDIR (as baselines'
    logger.configure()), else, for training (`training`; default: --num_timesteps > 0), the run folder --load_path
    names (a run goes on where it was), else `default_run_dir`. Under MPI every rank takes rank 0's choice (the
    ranks reach this at different seconds)."""
    training = args.num_timesteps > 0 if training is None else training
    return world().share(_chosen_run_folder(args, load_path, training))


def _chosen_run_folder(args: argparse.Namespace, load_path: Any, training: bool) -> tuple[str, str]:
    """`run_folder` as this process sees it."""
    if args.log_path:
        return os.path.expanduser(args.log_path), f"--log_path={args.log_path}"
    if os.environ.get("OPENAI_LOGDIR"):
        return os.path.expanduser(os.environ["OPENAI_LOGDIR"]), f"OPENAI_LOGDIR={os.environ['OPENAI_LOGDIR']}"
    loaded_run = run_folder_of(load_path) if training else None
    if loaded_run is not None:
        return loaded_run, f"--load_path={load_path}"
    return default_run_dir(args.alg, args.env), "the default run folder"


def run_folder_of(load_path: Any) -> str | None:
    """The run folder a --load_path names: a folder holding `checkpoints`, a `checkpoints` folder's parent, or that
    of a checkpoint file in one; None for anything else (a model saved elsewhere)."""
    if not isinstance(load_path, str):
        return None
    path = os.path.normpath(os.path.expanduser(load_path))
    if os.path.isdir(os.path.join(path, CHECKPOINTS_SUBDIR)):
        return path
    if os.path.basename(path) == CHECKPOINTS_SUBDIR and os.path.isdir(path):
        return os.path.dirname(path) or "."
    if os.path.isfile(path) and os.path.basename(os.path.dirname(path)) == CHECKPOINTS_SUBDIR:
        return os.path.dirname(os.path.dirname(path)) or "."
    return None


def worker_env_id(args: argparse.Namespace) -> str:
    """--env as the env workers make it: with --extra_import, 'module:EnvId', so the workers import the module too
    (baselines' forked workers inherited the import)."""
    extra_import = getattr(args, "extra_import", None)
    return f"{extra_import}:{args.env}" if extra_import and ":" not in args.env else args.env


def video_recorder(env: VecEnv, folder: str, interval: int, length: int, steps_before: int = 0) -> VecVideoRecorder:
    """`env` recording `length` steps into `folder` every `interval` steps (its envs render rgb_array frames);
    `steps_before` env steps of a resumed run come first, so its videos are numbered on and none is overwritten."""
    recorder = VecVideoRecorder(env, folder, lambda step: step % interval == 0, video_length=length)
    recorder.step_id = steps_before // env.num_envs  # the recorder counts steps of all envs at once
    return recorder


def num_envs(args: argparse.Namespace, env_type: str, algorithm: AlgorithmEntry) -> int:
    """How many envs the run steps: one for DQN, else --num_env, or the algorithm's default (one for the replay
    learners and TRPO, as baselines' run.py), or 8 for Atari, one for MuJoCo, one per core else."""
    if not algorithm.vectorized:
        return 1
    if args.num_env:
        return int(args.num_env)
    if algorithm.default_num_env is not None:
        return algorithm.default_num_env
    if env_type == "atari":
        return ATARI_NUM_ENV
    # baselines' published Mujoco1M table ran one env (2048-step batches): more envs mean fewer, larger updates
    return 1 if env_type == "mujoco" else os.cpu_count() or 1


def build_env(
    args: argparse.Namespace,
    env_type: str | None = None,
    algorithm: AlgorithmEntry | None = None,
    seed: int | None = None,
    monitor_dir: str | None = None,
    render_mode: str | None = None,
) -> VecEnv:
    """The training VecEnv as baselines' run.py builds it: Atari and retro games with DeepMind wrappers and 4 stacked
    frames (retro from save state --gamestate), MuJoCo behind VecNormalize (unless the algorithm's entry says
    otherwise), Dict observations (goal-based robotics envs) kept for the algorithms that take them (HER) and
    flattened for the others. `build_env(args)` (baselines' call) takes the env type, algorithm and seed from `args`."""
    if env_type is None:
        env_type = args.env_type or env_type_of(args.env)
        seed = args.seed if seed is None else seed
    algorithm = algorithm or ALGORITHMS[args.alg]
    count = num_envs(args, env_type, algorithm)
    env_id = worker_env_id(args)
    options = {"reward_scale": args.reward_scale, "monitor_dir": monitor_dir, "env_timeout": args.env_timeout,
               "resumable": getattr(args, "deterministic", False),
               "restart_crashed_envs": args.restart_crashed_envs, "render_mode": render_mode,
               "gamestate": getattr(args, "gamestate", None),
               "flatten_dict_observations": not algorithm.dict_observations}
    if not algorithm.vectorized:  # one env stacking its own frames, as the replay learners store them
        stacking: dict[str, dict[str, Any]] = {"atari": {"frame_stack": True}, "retro": {"frame_stack": 4}}
        wrapper_kwargs = stacking.get(env_type)
        return make_vec_env(env_id, env_type, count, seed, wrapper_kwargs=wrapper_kwargs, **options)
    if env_type in FRAME_STACKED_ENV_TYPES:
        return VecFrameStack(make_vec_env(env_id, env_type, count, seed, vec_env_kind="shmem", **options), 4)
    venv = make_vec_env(env_id, env_type, count, seed, **options)
    return VecNormalize(venv) if env_type == "mujoco" and algorithm.mujoco_vec_normalize else venv


def limit_tensorflow_threads(env_type: str, algorithm: AlgorithmEntry) -> None:
    """Give TensorFlow one intra-op and one inter-op thread off Atari and retro, for the algorithms whose entry asks
    for it, as baselines' run.py did; values already in the environment win. TensorFlow reads the variables at its
    first op, so this must come before it."""
    if env_type not in FRAME_STACKED_ENV_TYPES and algorithm.single_threaded_off_atari:
        for variable in TF_THREAD_VARIABLES:
            os.environ.setdefault(variable, "1")


def tensorflow_threads() -> str:
    """The thread counts the environment gives TensorFlow, for the log; "" where it sets neither (every core)."""
    intra, inter = (os.environ.get(variable) for variable in TF_THREAD_VARIABLES)
    if intra is None and inter is None:
        return ""
    counts = ["all" if value in (None, "", "0") else value for value in (intra, inter)]  # 0 is TF's default
    return f"TensorFlow threads: {counts[0]} intra-op, {counts[1]} inter-op"


def unwritable_reason(directory: str) -> str | None:
    """Why files cannot be created in `directory` (made if missing), or None if they can."""
    existing = os.path.abspath(directory)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{existing!r} is a file, not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"the directory {existing!r} is not writable"
    try:  # access() says yes to root even where nothing can be made (/proc, some mounts): try it
        os.rmdir(tempfile.mkdtemp(prefix=".write-probe-", dir=existing))
    except OSError as err:
        return f"the directory {existing!r} is not writable ({err.strerror})"
    return None


def check_output_paths(parser: argparse.ArgumentParser, args: argparse.Namespace, run_dir: str, chosen_by: str
                       ) -> None:
    """Exit 2 if the run folder or --save_path cannot be written, before anything is built or trained."""
    reason = unwritable_reason(run_dir)
    if reason:
        parser.error(f"{chosen_by} cannot hold the run's logs: {reason}")
    if args.save_path:
        save_path = os.path.expanduser(args.save_path)
        reason = (f"{save_path!r} is a directory; give a file name" if os.path.isdir(save_path)
                  else unwritable_reason(os.path.dirname(os.path.abspath(save_path))))
        if reason:
            parser.error(f"--save_path={args.save_path} cannot hold the model: {reason}")


def read_checkpoint_metadata(parser: argparse.ArgumentParser, load_path: Any, alg: str) -> dict[str, Any]:
    """The metadata of --load_path, after checking that it is a readable checkpoint of --alg; otherwise exit 2."""
    if not isinstance(load_path, str):
        parser.error(f"--load_path must be a file path, got {load_path!r}")
    try:
        metadata = read_metadata(load_path)
    except CheckpointError as err:
        parser.error(f"--load_path: {err}")
    if metadata.get("alg") != alg:
        parser.error(f"--load_path: {load_path!r} is a {metadata.get('alg')!r} checkpoint, not one of --alg={alg}")
    return metadata


def resolve_hyperparameters(
    parser: argparse.ArgumentParser, args: argparse.Namespace, extra: dict[str, Any], env_type: str
) -> tuple[Any, Any, str, dict[str, Any]]:
    """(learn function, config, network name, keyword arguments) after defaults and checks; usage errors exit 2.

    The options an algorithm takes are its config's fields (the one source of its hyperparameters), `load_path`,
    the network's and head's keyword arguments, and the learn() options its entry names (HER's demo_file)."""
    from baselines_tf2.nn.models import get_network_builder, is_recurrent_network, registered_networks

    algorithm = ALGORITHMS[args.alg]
    module = importlib.import_module(algorithm.module)
    kwargs: dict[str, Any] = {}
    if algorithm.defaults:
        defaults = importlib.import_module(algorithm.defaults)
        if hasattr(defaults, env_type):
            kwargs.update(getattr(defaults, env_type)())
    kwargs.update(extra)
    network = args.network or kwargs.pop("network", None) or DEFAULT_NETWORKS.get(env_type, "mlp")
    kwargs.pop("network", None)
    if network not in registered_networks():
        parser.error(f"unknown network {network!r}; valid: {', '.join(registered_networks())}")
    if algorithm.feedforward_only and is_recurrent_network(network):
        feedforward = [name for name in registered_networks() if not is_recurrent_network(name)]
        parser.error(f"--alg={args.alg} trains feed-forward networks only, not {network!r}; valid: "
                     f"{', '.join(feedforward)} (ppo2 and a2c train recurrent ones)")
    config_class = getattr(module, algorithm.config)
    config_fields = {field.name for field in dataclasses.fields(config_class)}
    flags = {"precision", "save_replay"}  # config fields set by their own command-line flags
    torso_keys = network_keys(network) if algorithm.network_kwargs else set()
    valid = (config_fields - flags) | {"load_path"} | torso_keys | set(algorithm.model_keys) | set(
        algorithm.learn_options)
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        parser.error(f"unknown option(s) for --alg={args.alg} with --network={network}: "
                     f"{', '.join('--' + key for key in unknown)}; valid: {', '.join(sorted(valid))}")
    if args.save_replay and "save_replay" not in config_fields:
        parser.error(f"--save_replay saves a replay buffer; --alg={args.alg} has none")
    for flag in RUN_FLAGS:
        if flag in RUN_OPTIONS or flag in config_fields:
            kwargs[flag] = getattr(args, flag)
    from baselines_tf2.nn.tf_util import resolve_precision

    auto = args.precision == "auto"
    kwargs["precision"] = "float32" if auto and not algorithm.bf16_validated else resolve_precision(args.precision)
    try:
        config = config_class(**{key: value for key, value in kwargs.items() if key in config_fields})
    except (TypeError, ValueError) as err:
        parser.error(f"bad hyperparameter: {err}")
    try:
        get_network_builder(network)(**{key: value for key, value in kwargs.items() if key in network_keys(network)})
    except (TypeError, ValueError) as err:
        parser.error(f"bad option for --network={network}: {err}")
    return module.learn, config, network, kwargs


def check_checkpoint_fits(
    parser: argparse.ArgumentParser, metadata: dict[str, Any], env: VecEnv, path: str, env_id: str
) -> None:
    """Exit 2 (closing `env`) if the --load_path checkpoint was trained on other observation or action spaces."""
    from baselines_tf2.training.checkpoint import check_spaces_match

    try:
        check_spaces_match(metadata, env.observation_space, env.action_space, path)
    except CheckpointError as err:
        env.close()
        parser.error(f"--load_path does not fit --env={env_id}: {err}")


def save_model(parser: argparse.ArgumentParser, agent: Any, path: str, what: str, run_dir: str) -> bool:
    """Write `agent` to `path` and log it; on a write error (a full disk) print one error line naming the newest
    checkpoint still on disk instead, and return False."""
    try:
        agent.save(path)
    except OSError as err:
        newest = CheckpointDirectory(os.path.join(run_dir, CHECKPOINTS_SUBDIR)).latest()
        kept = f"the newest checkpoint is {newest}" if newest else "no checkpoint of this run is on disk"
        print(f"{parser.prog}: error: could not write {what} to {path} ({err}); {kept}", file=sys.stderr)
        return False
    logger.log(f"saved {what} to {path}")
    return True


def add_training_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of the training core and precision, which every algorithm takes (`save_replay`: replay learners)."""
    parser.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16"), default="auto",
                        help="network arithmetic: mixed_bfloat16 computes in bfloat16 with float32 weights; "
                             "auto (default) picks it, on CPUs with AMX (the bfloat16 hardware measured), for the "
                             "algorithms whose bfloat16 learning curves were checked (ppo2), float32 otherwise")
    parser.add_argument("--keep_checkpoints", type=int, default=DEFAULT_KEEP,
                        help="newest checkpoints kept in <log_path>/checkpoints (0 keeps all)")
    parser.add_argument("--max_nonfinite_updates", type=int, default=DEFAULT_MAX_NONFINITE_UPDATES,
                        help="stop after this many consecutive updates skipped for a non-finite loss or gradient")
    parser.add_argument("--deterministic", action="store_true",
                        help="deterministic TensorFlow ops (with --seed, a run repeats exactly; slower)")
    parser.add_argument("--save_replay", action="store_true",
                        help="replay learners (deepq): put the replay buffer in checkpoints, so a resumed run trains "
                             "on at once (an Atari buffer of 1M steps takes ~7 GB)")


def run_arg_parser() -> argparse.ArgumentParser:
    """The CLI's parser: baselines' common flags, then ours (precision, checkpoints, resume, play)."""
    parser = common_arg_parser()
    parser.prog = "python -m baselines_tf2.run"
    parser.add_argument("--play_episodes", type=int, default=3, help="episodes --play plays")
    add_training_flags(parser)
    return parser


# ---- baselines' run.py functions, for code that drives training from Python ------------------------------------


def get_alg_module(alg: str, submodule: str | None = None) -> Any:
    """The module `baselines_tf2.<alg>.<submodule or alg>` (baselines' lookup; deepq's learn is in deepq.deepq)."""
    if alg not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {alg!r}; valid: {', '.join(sorted(ALGORITHMS))}")
    return importlib.import_module(f"baselines_tf2.{alg}.{submodule or alg}")


def get_learn_function(alg: str) -> Any:
    """The algorithm's `learn`."""
    return get_alg_module(alg).learn


def get_learn_function_defaults(alg: str, env_type: str) -> dict[str, Any]:
    """The algorithm's `defaults.<env_type>()` as a dict, or {} when it has none for that env type."""
    try:
        defaults = get_alg_module(alg, "defaults")
    except ModuleNotFoundError as err:
        if err.name != f"baselines_tf2.{alg}.defaults":
            raise
        return {}
    return getattr(defaults, env_type)() if callable(getattr(defaults, env_type, None)) else {}


@overload
def get_env_type(args: argparse.Namespace) -> tuple[str, str]: ...


@overload
def get_env_type(args: str) -> str: ...


def get_env_type(args: argparse.Namespace | str) -> tuple[str, str] | str:
    """baselines' form: `(env_type, env_id)` of a parsed command line (`args.env`; `args.env_type` wins if set).

    Given a bare env id instead, its env type alone, as `common.cmd_util.get_env_type(env_id)` returns it.
    """
    if isinstance(args, str):
        return env_type_of(args)
    return args.env_type or env_type_of(args.env), args.env


def get_default_network(env_type: str) -> str:
    """'cnn' for image envs (Atari, retro), 'mlp' otherwise."""
    return "cnn" if env_type in ("atari", "retro") else "mlp"


def parse_cmdline_kwargs(args: Sequence[str]) -> dict[str, Any]:
    """`--name=value` tokens as a dict of Python literals, or the word where a value is no literal (baselines
    evaluated them with eval; a literal is never code); UsageError for a malformed token."""
    return {key: literal_or_word(value) for key, value in parse_unknown_args(args).items()}


def literal_or_word(value: str) -> Any:
    """'128' -> 128, '[64, 64]' -> [64, 64], 'mlp' -> 'mlp': a Python literal, else the string itself."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def configure_logger(log_path: str | None, **kwargs: Any) -> None:
    """baselines' logger set-up: into `log_path` if given, else `logger.configure(**kwargs)`."""
    if log_path is not None:
        logger.configure(log_path)
    else:
        logger.configure(**kwargs)


def train(args: argparse.Namespace, extra_args: dict[str, Any]) -> tuple[Any, VecEnv]:
    """baselines' `train(args, extra_args)`: build the env from `args`, merge the env type's defaults with
    `extra_args`, call the algorithm's learn; `(model, env)`. A nonzero `args.save_video_interval` records videos
    into the logger's folder's `videos/`, as baselines'. The command line adds its checks, checkpoints and saving
    around the same steps (`main`)."""
    env_type = args.env_type or env_type_of(args.env)
    limit_tensorflow_threads(env_type, ALGORITHMS[args.alg])
    interval = getattr(args, "save_video_interval", 0)
    video_dir = None
    if interval:
        log_dir = logger.get_dir()
        if log_dir is None:
            raise ValueError(f"save_video_interval={interval} records videos into the logger's folder, but the "
                             "logger has none: call logger.configure(dir) (or configure_logger) first")
        video_dir = os.path.join(log_dir, "videos")
    env = build_env(args, render_mode="rgb_array" if interval else None)
    if video_dir is not None:
        env = video_recorder(env, video_dir, interval, args.save_video_length)
    alg_kwargs = {**get_learn_function_defaults(args.alg, env_type), **extra_args}
    network = args.network or alg_kwargs.pop("network", None) or get_default_network(env_type)
    alg_kwargs.pop("network", None)
    model = get_learn_function(args.alg)(env=env, network=network, seed=args.seed,
                                         total_timesteps=int(args.num_timesteps), **alg_kwargs)
    return model, env


def main(args: Sequence[str] | None = None) -> int:
    """Parse the command line `args` (default sys.argv[1:]), train, save, optionally play; the exit status."""
    return _run_command_line(args)


def _run_command_line(argv: Sequence[str] | None) -> int:
    """`main`'s body: `args` below is the parsed command line."""
    parser = run_arg_parser()
    args, unknown = parser.parse_known_args(argv)
    try:
        extra = parse_cmdline_kwargs(unknown)
    except UsageError as err:
        parser.error(str(err))
    if args.alg not in ALGORITHMS or not ALGORITHMS[args.alg].in_run_cli:
        valid = sorted(name for name, entry in ALGORITHMS.items() if entry.in_run_cli)
        parser.error(f"unknown algorithm {args.alg!r}; valid: {', '.join(valid)}")
    if not 0 <= args.num_timesteps <= MAX_TIMESTEPS:  # NaN fails too
        parser.error(f"--num_timesteps must be between 0 and {MAX_TIMESTEPS:.0e}, got {args.num_timesteps}")
    if args.seed is not None and not 0 <= args.seed < 2**32:
        parser.error(f"--seed must be between 0 and 2**32 - 1 (NumPy's and the envs' seed range), got {args.seed}")
    if args.play_episodes < 1:
        parser.error(f"--play_episodes must be >= 1, got {args.play_episodes}")
    if args.save_video_interval < 0:
        parser.error(f"--save_video_interval must be >= 0 (0 records nothing), got {args.save_video_interval}")
    if args.save_video_length < 1:
        parser.error(f"--save_video_length must be >= 1, got {args.save_video_length}")
    if args.num_env is not None and args.num_env < 1:
        parser.error(f"--num_env must be >= 1, got {args.num_env}")
    if args.keep_checkpoints < 0:
        parser.error(f"--keep_checkpoints must be >= 0 (0 keeps all), got {args.keep_checkpoints}")
    if args.max_nonfinite_updates < 1:
        parser.error(f"--max_nonfinite_updates must be >= 1, got {args.max_nonfinite_updates}")
    if args.deterministic and args.seed is None:
        parser.error("--deterministic needs --seed (a deterministic run repeats the run of one seed)")
    if not args.env_timeout > 0:
        parser.error(f"--env_timeout must be a positive number of seconds, got {args.env_timeout}")
    training = trains(args, extra)
    run_dir, chosen_by = run_folder(args, extra.get("load_path"), training)
    check_output_paths(parser, args, run_dir, chosen_by)
    if args.extra_import is not None:
        try:
            importlib.import_module(args.extra_import)
        except ImportError as err:
            parser.error(f"--extra_import={args.extra_import} cannot be imported: {err}")
    try:
        progress_interval()
    except ValueError as err:
        parser.error(str(err))
    try:
        env_type = args.env_type or env_type_of(args.env)
    except ValueError as err:
        parser.error(str(err))
    if args.gamestate is not None and env_type != "retro":
        parser.error(f"--gamestate selects the save state of a retro game; --env={args.env} is of type "
                     f"{env_type!r} (give --env_type=retro for a retro game)")
    if env_type == "retro":
        try:
            check_retro_game(args.env, args.gamestate)
        except (ImportError, ValueError) as err:
            parser.error(str(err))
    algorithm = ALGORITHMS[args.alg]
    limit_tensorflow_threads(env_type, algorithm)  # before anything runs a TensorFlow op
    learn, config, network, kwargs = resolve_hyperparameters(parser, args, extra, env_type)
    if callable(getattr(config, "check_batch", None)):  # on-policy configs: minibatches must split the batch
        try:
            config.check_batch(num_envs(args, env_type, algorithm), recurrent=False)  # learn() checks lstm splits
        except ValueError as err:
            parser.error(f"--nminibatches={config.nminibatches} does not fit the batch: {err}")
    load_path = kwargs.get("load_path")
    checkpoint = None if load_path is None else read_checkpoint_metadata(parser, load_path, args.alg)
    total_timesteps = int(args.num_timesteps)

    ranks = world()
    if ranks.size > 1 and not algorithm.data_parallel:
        parser.error(f"--alg={args.alg} does not train on several MPI ranks; launch it without mpiexec "
                     f"(data-parallel: {', '.join(name for name, alg in ALGORITHMS.items() if alg.data_parallel)})")
    earlier_run = CheckpointDirectory(os.path.join(run_dir, CHECKPOINTS_SUBDIR)).latest()
    if training and load_path is None and earlier_run is not None:
        parser.error(f"{chosen_by} already holds a run with checkpoints; resume it with --load_path={run_dir}, or "
                     "give another --log_path (a new run there would mix its logs and checkpoints with the old ones)")
    # Only rank 0 writes logs; every rank's envs write their own <rank>.<env>.monitor.csv into run_dir (baselines).
    logger.configure(run_dir, ["stdout", "csv", "tensorboard"] if ranks.rank == 0 else [])
    recording = bool(args.save_video_interval) and ranks.rank == 0
    if kwargs.get("replay_buffer_class") is not None:  # SAC/TD3 with HER: the goal env's Dict observations stay
        algorithm = dataclasses.replace(algorithm, dict_observations=True)
    try:
        env = build_env(args, env_type, algorithm, args.seed, render_mode="rgb_array" if recording else None)
    except (VecEnvWorkerError, ValueError, gymnasium.error.Error) as err:  # the env id, type or options make no env
        cause = getattr(err, "worker_traceback", None) or f"{type(err).__name__}: {err}"
        parser.error(f"--env={args.env} cannot be made (env type {env_type}): {cause.strip().splitlines()[-1]}")
    if recording:
        # the checkpoint counts the steps of every MPI rank; this rank's recorder sees its share
        steps_before = int(checkpoint.get("timesteps", 0)) // ranks.size if checkpoint is not None else 0
        env = video_recorder(env, os.path.join(run_dir, "videos"), args.save_video_interval, args.save_video_length,
                             steps_before)
    # first: an env without goals is the wrong kind of env for HER, whatever its actions
    if algorithm.goal_observations_only and not is_goal_space(env.observation_space):
        env.close()
        parser.error(f"--alg={args.alg} needs goal-based observations (a Dict of Boxes {', '.join(GOAL_KEYS)}), but "
                     f"{args.env} does not: {describe_goal_space_problem(env.observation_space)}; use a goal-based "
                     f"env such as FetchReach-v4, FetchPush-v4 or HandManipulateBlock-v1 ({ROBOTICS_EXTRA})")
    if algorithm.discrete_actions_only and not isinstance(env.action_space, gymnasium.spaces.Discrete):
        env.close()
        parser.error(f"--alg={args.alg} needs a Discrete action space, but {args.env} has {env.action_space}; "
                     "use --alg=ppo2 or --alg=a2c for continuous actions")
    if algorithm.continuous_actions_only and not isinstance(env.action_space, gymnasium.spaces.Box):
        env.close()
        parser.error(f"--alg={args.alg} needs a continuous (Box) action space, but {args.env} has "
                     f"{env.action_space}; use --alg=deepq, ppo2 or a2c for discrete actions")
    if checkpoint is not None:
        check_checkpoint_fits(parser, checkpoint, env, str(load_path), args.env)
    if kwargs.get("eval_freq"):
        eval_seed = None if args.seed is None else args.seed + EVAL_SEED_OFFSET
        kwargs["eval_env"] = build_env(args, env_type, algorithm, eval_seed, os.path.join(run_dir, "eval"))
    if "save_interval" in {field.name for field in dataclasses.fields(config)} and "save_interval" not in kwargs:
        kwargs["save_interval"] = max(1, CHECKPOINT_EVERY_STEPS // (ranks.size * env.num_envs * config.nsteps))
    if training:
        precision = f", {kwargs['precision']}" if "precision" in kwargs else ""
        envs = f"{env.num_envs} envs" + (f" on each of {ranks.size} MPI ranks" if ranks.size > 1 else "")
        threads = tensorflow_threads()
        logger.log(f"training {args.alg} ({network}{precision}) on {args.env} ({env_type}, {envs}) "
                   f"{budget(total_timesteps, extra)}; logs and checkpoints in {run_dir}"
                   + (f"; {threads}" if threads else ""))
    try:
        model = learn(env=env, network=network, seed=args.seed, total_timesteps=total_timesteps,
                      progress_bar=True, **kwargs)
    except CheckpointError as err:  # loading happens before training; saves never raise it for CLI runs
        if checkpoint is None:
            raise
        parser.error(f"--load_path does not fit this model: {err}")
    except ArgumentError as err:  # options that cannot work together or with this env, found before training
        parser.error(str(err))
    except TrainingInterrupted as stop:
        logger.log(f"{stop}; resume with --load_path={run_dir}")
        if args.save_path and ranks.rank == 0 and stop.agent is not None:  # as rl-zoo: the model where asked
            save_model(parser, stop.agent, os.path.expanduser(args.save_path), "the model at the stop", run_dir)
        return stop.exit_status
    except (NonFiniteUpdateError, VecEnvError) as err:
        if ranks.size > 1 and isinstance(err, VecEnvError) and not isinstance(err, DistributedEnvError):
            raise  # this rank failed alone (building or resetting its envs): abort_on_failure ends the job
        if ranks.rank == 0 or getattr(err, "own_error", None) is not None:  # each error once, not once per rank
            rank = f"rank {ranks.rank}: " if ranks.size > 1 else ""
            print(f"{parser.prog}: error: {rank}{err}", file=sys.stderr)
        return 1
    finally:
        env.close()
        if "eval_env" in kwargs:
            kwargs["eval_env"].close()
    if ranks.rank > 0:  # the ranks hold the same model: rank 0 saves and plays it
        return 0
    save_path = os.path.expanduser(args.save_path) if args.save_path else os.path.join(run_dir, "model")
    if (training or args.save_path) and not save_model(parser, model, save_path, "the final model", run_dir):
        return 1
    if args.play:
        from baselines_tf2.tools.play import play_model

        play_model(model, episodes=args.play_episodes, seed=args.seed)
    return 0


if __name__ == "__main__":
    try:
        with abort_on_failure():  # under MPI, a rank that fails alone ends the job instead of leaving peers waiting
            status = main()
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once (checkpoints on disk are complete or untouched)
        status = 128 + signal.SIGINT
    sys.exit(status)
