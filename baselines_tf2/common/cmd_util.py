"""Building monitored, seeded VecEnvs from an env id, and baselines' command-line parser (no TensorFlow here)."""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.util
import os
from typing import Any, Callable, Mapping, Sequence, cast

import gymnasium
import numpy as np

from baselines_tf2 import logger
from baselines_tf2.bench import Monitor
from baselines_tf2.common.atari_wrappers import make_atari, wrap_deepmind
from baselines_tf2.common.misc_util import set_global_seeds
from baselines_tf2.common.resumable_env import ResumableEnv
from baselines_tf2.common.retro_wrappers import (
    RETRO_INSTALL_HINT,
    RewardScaler,
    import_retro,
    make_retro,
    retro_game_id,
    retro_game_names,
    wrap_deepmind_retro,
)
from baselines_tf2.common.vec_env import (
    DummyVecEnv,
    ShmemVecEnv,
    SubprocVecEnv,
    VecEnv,
    VecEnvWrapper,
    VecFrameStack,
    VecNormalize,
)
from baselines_tf2.common.wrappers import ClipActionsWrapper

VEC_ENV_KINDS = ("dummy", "subproc", "shmem")
WRAPPED_ENV_TYPES = ("atari", "retro")  # the env types whose make_env applies DeepMind wrappers (wrapper_kwargs)
RETRO_WRAPPER_DEFAULTS = {"scale": False, "frame_stack": 1}  # 84x84x1 uint8 frames, stacked by the VecEnv
RETRO_MAX_EPISODE_STEPS = 10000  # baselines' make_env
ROBOTICS_EXTRA = "pip install 'baselines_tf2[robotics]'"
# gym's robotics ids (Fetch*, Hand*) that gymnasium-robotics now holds: an unknown id of this look names its extra
ROBOTICS_ID_PREFIXES = ("Fetch", "Hand")


def _register_ale() -> None:
    """Make ale-py's Atari ids resolvable (gymnasium 1.x no longer does it by itself)."""
    import ale_py

    gymnasium.register_envs(ale_py)


def _is_registered(env_id: str) -> bool:
    try:
        gymnasium.spec(env_id)
    except gymnasium.error.Error:
        return False
    return True


def register_robotics_envs() -> bool:
    """Register gymnasium-robotics' ids (Fetch, Hand, mazes, ...) if it is installed; whether it is."""
    if importlib.util.find_spec("gymnasium_robotics") is None:
        return False
    import gymnasium_robotics

    gymnasium.register_envs(gymnasium_robotics)
    return True


def _looks_like_robotics(env_id: str) -> bool:
    return env_id.startswith(ROBOTICS_ID_PREFIXES)


def import_env_module(env_id: str) -> str:
    """For a baselines-style 'module:EnvId' id, import the module (which registers the env); return 'EnvId'.

    Ids without ':' come back unchanged. Raises a one-line ValueError naming the module if it cannot be imported.
    """
    module, colon, bare_id = env_id.partition(":")
    if not colon:
        return env_id
    try:
        importlib.import_module(module)
    except Exception as err:  # the module is the user's code: a failure at import can be any exception
        reason = " ".join(str(err).split())  # one line, whatever the exception's text
        raise ValueError(
            f"cannot import module {module!r} of environment id {env_id!r}: {type(err).__name__}: {reason}"
        ) from None
    return bare_id


def get_env_type(env_id: str) -> str:
    """The env's family as baselines names it ('atari', 'retro', 'mujoco', 'robotics', 'classic_control', ...).

    A 'module:EnvId' id imports the module first, then classifies EnvId. An id gymnasium does not know is 'retro'
    if stable-retro (when installed) has that game, as baselines looked ids up in retro's game list, else
    'robotics' if gymnasium-robotics (when installed, registered only then) has it. Raises ValueError naming close
    matches when the id is not registered (and the robotics extra for a Fetch/Hand id without gymnasium-robotics),
    or naming the module when it cannot be imported.
    """
    _register_ale()
    env_id = import_env_module(env_id)
    if not _is_registered(env_id):
        if retro_game_id(env_id) is not None:
            return "retro"
        robotics_installed = register_robotics_envs()
        if not _is_registered(env_id):
            close = difflib.get_close_matches(env_id, [*gymnasium.registry, *retro_game_names()], n=5, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            if not robotics_installed and _looks_like_robotics(env_id):
                hint += f" (Fetch and Hand ids need gymnasium-robotics: {ROBOTICS_EXTRA})"
            elif importlib.util.find_spec("stable_retro") is None:
                hint += f" (retro game ids need stable-retro: {RETRO_INSTALL_HINT})"
            raise ValueError(f"unknown environment id {env_id!r}{hint}")
    entry_point = gymnasium.spec(env_id).entry_point
    module = entry_point.split(":")[0] if isinstance(entry_point, str) else entry_point.__module__
    if module.startswith("ale_py"):
        return "atari"
    if module.startswith("gymnasium_robotics"):
        return "robotics"  # baselines' name (gym.envs.robotics) for what gymnasium-robotics now holds
    parts = module.split(".")
    if parts[:2] == ["gymnasium", "envs"] and len(parts) > 2:
        return parts[2]
    return parts[0]


def _refuse_gamestate(gamestate: str | None, env_type: str) -> None:
    if gamestate is not None and env_type != "retro":
        raise ValueError(f"gamestate={gamestate!r} selects the save state of a retro game; env type {env_type!r} "
                         "has none (leave gamestate=None, or use env_type='retro')")


def _seed_env(env: gymnasium.Env, seed: int) -> None:
    """What gym's `env.seed(seed)` did: seed the env's generator (through reset, the gymnasium way) and its action
    space's, so that the episodes that follow depend on `seed` only."""
    env.reset(seed=seed)
    env.action_space.seed(seed)


def make_env(
    env_id: str,
    env_type: str,
    mpi_rank: int = 0,
    subrank: int = 0,
    seed: int | None = None,
    reward_scale: float = 1.0,
    gamestate: str | None = None,
    flatten_dict_observations: bool = True,
    wrapper_kwargs: Mapping[str, Any] | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    logger_dir: str | None = None,
    initializer: Callable[..., object] | None = None,
    render_mode: str | None = None,
) -> gymnasium.Env:
    """One env as baselines builds it: made, seeded with `seed + subrank` (if `seed` is given), monitored (writing
    `<logger_dir>/<rank>.<subrank>.monitor.csv`), wrapped. Continuous (Box) actions are clipped to the action space;
    a 'module:EnvId' id imports the module. `initializer(mpi_rank=, subrank=)` runs first (in the env's process).

    Retro games (stable-retro, `env_type='retro'`) start from save state `gamestate` (None: the game's default),
    with discrete actions, 10000-step episodes and `wrap_deepmind_retro`; `gamestate` is refused for other types.
    As in baselines, the retro frames are single 84x84x1 ones (frame_stack=1) for a VecFrameStack to stack; unlike
    baselines they stay uint8 (scale=False), as for Atari, where baselines' float frames were divided by 255 again
    by its nature_cnn: pass `wrapper_kwargs` to change that."""
    if initializer is not None:
        initializer(mpi_rank=mpi_rank, subrank=subrank)
    _refuse_gamestate(gamestate, env_type)
    env_kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        env_kwargs["render_mode"] = render_mode
    env_id = import_env_module(env_id)  # here too: env worker processes build their envs from the id alone
    if env_type == "atari":
        env = make_atari(env_id, **env_kwargs)
    elif env_type == "retro":
        env_kwargs.setdefault("use_restricted_actions", import_retro().Actions.DISCRETE)
        env = make_retro(game=env_id, state=gamestate, max_episode_steps=RETRO_MAX_EPISODE_STEPS, **env_kwargs)
    else:
        _register_ale()
        # gymnasium-robotics only for an id not known without it (importing it loads MuJoCo and 234 ids); env
        # worker processes start with bare registries and get here with the id alone
        if not _is_registered(env_id) and not register_robotics_envs() and env_type == "robotics":
            raise ImportError(f"robotics env {env_id!r} needs gymnasium-robotics: {ROBOTICS_EXTRA}")
        env = gymnasium.make(env_id, **env_kwargs)
        if flatten_dict_observations and isinstance(env.observation_space, gymnasium.spaces.Dict):
            env = gymnasium.wrappers.FlattenObservation(env)
        if isinstance(env.action_space, gymnasium.spaces.Box):
            # Policies sample unbounded Gaussians: clip next to the env (inside the Monitor, which ignores
            # actions), so no wrapper added above can hand it an action out of bounds (MuJoCo would charge its
            # control cost on the raw value).
            env = ClipActionsWrapper(env)
    if seed is not None:
        _seed_env(env, seed + subrank)
    monitor_path = os.path.join(logger_dir, f"{mpi_rank}.{subrank}") if logger_dir else None
    # Appending: a restarted env worker or a resumed run in the same folder keeps the episodes logged before.
    env = Monitor(env, monitor_path, allow_early_resets=True, override_existing=False)
    if env_type == "atari":
        env = wrap_deepmind(env, **dict(wrapper_kwargs or {}))
    elif env_type == "retro":
        env = wrap_deepmind_retro(env, **{**RETRO_WRAPPER_DEFAULTS, **dict(wrapper_kwargs or {})})
    if reward_scale != 1.0:
        env = RewardScaler(env, reward_scale)
    return env


def make_vec_env(
    env_id: str,
    env_type: str,
    num_env: int,
    seed: int | None,
    wrapper_kwargs: Mapping[str, Any] | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    start_index: int = 0,
    reward_scale: float = 1.0,
    flatten_dict_observations: bool = True,
    gamestate: str | None = None,
    initializer: Callable[..., object] | None = None,
    force_dummy: bool = False,
    vec_env_kind: str | None = None,
    render_mode: str | None = None,
    monitor_dir: str | None = None,
    env_timeout: float | None = None,
    resumable: bool = False,
    restart_crashed_envs: bool = False,
) -> VecEnv:
    """`num_env` monitored envs in a VecEnv; env i is seeded with `seed + 10000 * mpi_rank + start_index + i`.

    `vec_env_kind` picks 'dummy', 'subproc' or 'shmem'; by default one env (or `force_dummy`) runs in-process
    and several run in worker processes, as in baselines. Retro envs run one per worker process, even alone (a
    process holds one retro emulator at a time, so another retro env, for evaluation or play, can still be made).
    Monitor files go to `monitor_dir`, by default the logger's folder. A worker that takes longer than
    `env_timeout` seconds to answer raises VecEnvTimeoutError.
    `resumable` wraps each env in ResumableEnv (every reset seeded, exact state saved in checkpoints; needs `seed`).
    `restart_crashed_envs` replaces a worker process that crashed or hung instead of raising (subproc/shmem).
    `initializer(mpi_rank=, subrank=)` runs in each worker process before its env is built, and not at all for
    in-process envs (as baselines'); it must be picklable. `gamestate` is the save state of a retro game (refused
    for other env types).
    """
    _refuse_gamestate(gamestate, env_type)
    if num_env < 1:
        raise ValueError(f"num_env must be >= 1, got {num_env}")
    is_retro = env_type == "retro"
    if vec_env_kind is None:
        vec_env_kind = "dummy" if force_dummy or (num_env == 1 and not is_retro) else "subproc"
    if vec_env_kind not in VEC_ENV_KINDS:
        raise ValueError(f"unknown vec_env_kind {vec_env_kind!r}; valid: {', '.join(VEC_ENV_KINDS)}")
    if is_retro and vec_env_kind == "dummy" and num_env > 1:
        raise ValueError(f"a process runs one retro emulator at a time, so {num_env} retro envs cannot share one "
                         "process: use vec_env_kind='subproc' or 'shmem' (not 'dummy' or force_dummy)")
    if env_type not in WRAPPED_ENV_TYPES and wrapper_kwargs:
        raise ValueError(f"wrapper_kwargs apply to Atari and retro envs only; {env_id!r} is of type {env_type!r}")
    mpi_rank = logger.mpi_rank_from_environment()
    logger_dir = monitor_dir or logger.get_dir()
    if resumable and seed is None:
        raise ValueError("resumable envs need a seed (exact resume replays seeded games)")

    # baselines ran the initializer in worker processes only, never in the caller's (its DummyVecEnv got None)
    worker_initializer = None if vec_env_kind == "dummy" else initializer

    def env_factory(subrank: int) -> Callable[[], gymnasium.Env]:
        def build() -> gymnasium.Env:
            env = make_env(
                env_id,
                env_type,
                mpi_rank=mpi_rank,
                subrank=subrank,
                reward_scale=reward_scale,
                wrapper_kwargs=wrapper_kwargs,
                env_kwargs=env_kwargs,
                logger_dir=logger_dir,
                flatten_dict_observations=flatten_dict_observations,
                initializer=worker_initializer,
                render_mode=render_mode,
                gamestate=gamestate,
            )
            return ResumableEnv(env) if resumable else env

        return build

    factories = [env_factory(start_index + i) for i in range(num_env)]
    in_series = 1 if is_retro else envs_per_worker(num_env)
    venv: VecEnv
    if vec_env_kind == "dummy":
        venv = DummyVecEnv(factories)
    elif vec_env_kind == "shmem":
        venv = ShmemVecEnv(factories, in_series=in_series, timeout=env_timeout, restart_crashed=restart_crashed_envs)
    else:
        venv = SubprocVecEnv(factories, in_series=in_series, timeout=env_timeout, restart_crashed=restart_crashed_envs)
    if seed is not None:
        venv.seed(seed + 10000 * mpi_rank + start_index)
    venv.recipe = {
        "env_id": env_id,
        "env_type": env_type,
        "wrapper_kwargs": dict(wrapper_kwargs or {}),
        "env_kwargs": dict(env_kwargs or {}),
        "reward_scale": reward_scale,
        "flatten_dict_observations": flatten_dict_observations,
        "gamestate": gamestate,
    }
    return venv


def describe_vec_env(venv: VecEnv) -> dict[str, Any]:
    """How `venv` was built (the make_vec_env recipe, if any, and its VecEnv wrappers), for checkpoints."""
    wrappers: list[dict[str, Any]] = []
    inner = venv
    while isinstance(inner, VecEnvWrapper):
        if isinstance(inner, VecFrameStack):
            wrappers.append({"type": "VecFrameStack", "nstack": inner.nstack, "channels_order": inner.channels_order})
        elif isinstance(inner, VecNormalize):
            wrappers.append({"type": "VecNormalize", "state": inner.state_dict()})
        inner = inner.venv
    return {"recipe": getattr(inner, "recipe", None), "wrappers": wrappers[::-1]}


def rebuild_vec_env(
    description: Mapping[str, Any], num_env: int = 1, seed: int | None = None, render_mode: str | None = None
) -> VecEnv:
    """The env a checkpoint was trained on, rebuilt from `describe_vec_env`'s description (in-process)."""
    recipe = description.get("recipe")
    if not recipe:
        raise ValueError(
            "the checkpoint does not record how its env was built (it was trained on a VecEnv not made by "
            "make_vec_env); build the env yourself"
        )
    venv: VecEnv = make_vec_env(
        recipe["env_id"], recipe["env_type"], num_env, seed,
        wrapper_kwargs=recipe["wrapper_kwargs"] or None, env_kwargs=recipe["env_kwargs"] or None,
        reward_scale=recipe["reward_scale"], flatten_dict_observations=recipe["flatten_dict_observations"],
        gamestate=recipe.get("gamestate"), vec_env_kind="dummy", render_mode=render_mode,
    )
    for wrapper in description.get("wrappers", []):
        if wrapper["type"] == "VecFrameStack":
            venv = VecFrameStack(venv, wrapper["nstack"], channels_order=wrapper["channels_order"])
        elif wrapper["type"] == "VecNormalize":
            venv = VecNormalize.from_state_dict(wrapper["state"], venv, training=False)
    return venv


def envs_per_worker(num_env: int) -> int:
    """Envs per worker process so that there is about one worker per core (fewer pipe round trips per step).

    Measured on 2 cores with 8 Breakout envs (benchmarks/vec_env_throughput.py): 4 per worker beat 1 per worker.
    """
    cores = os.cpu_count() or 1
    per_worker = max(1, num_env // cores)
    while num_env % per_worker:
        per_worker -= 1
    return per_worker


def make_atari_env(
    env_id: str,
    num_env: int,
    seed: int | None,
    wrapper_kwargs: Mapping[str, Any] | None = None,
    start_index: int = 0,
    vec_env_kind: str | None = None,
) -> VecEnv:
    """Atari envs with DeepMind wrappers (frame stacking is left to VecFrameStack, as in baselines)."""
    return make_vec_env(
        env_id, "atari", num_env, seed, wrapper_kwargs=wrapper_kwargs, start_index=start_index,
        vec_env_kind=vec_env_kind,
    )


def make_mujoco_env(env_id: str, seed: int | None, reward_scale: float = 1.0) -> gymnasium.Env:
    """baselines' single MuJoCo env: global seeds set (`seed + 1000 * rank`), env seeded with `seed`, monitored to
    `<logger dir>/<rank>.monitor.csv`, actions clipped to the action space (as make_env does)."""
    rank = logger.mpi_rank_from_environment()
    set_global_seeds(seed)
    env: gymnasium.Env = ClipActionsWrapper(gymnasium.make(import_env_module(env_id)))
    if seed is not None:
        _seed_env(env, seed)
    logger_dir = logger.get_dir()
    env = Monitor(env, logger_dir and os.path.join(logger_dir, str(rank)), allow_early_resets=True,
                  override_existing=False)
    if reward_scale != 1.0:
        env = RewardScaler(env, reward_scale)
    return env


class ConcatenatedKeys(gymnasium.ObservationWrapper):
    """A Dict observation's `keys`, flattened and concatenated in that order (gym's FlattenDictWrapper, which
    baselines' make_robotics_env used: observation first, then the goal; gymnasium's FlattenObservation sorts)."""

    def __init__(self, env: gymnasium.Env, keys: Sequence[str]) -> None:
        super().__init__(env)
        spaces = env.observation_space
        if not isinstance(spaces, gymnasium.spaces.Dict) or any(key not in spaces.spaces for key in keys):
            raise ValueError(f"ConcatenatedKeys needs a Dict observation space with keys {list(keys)}, got {spaces}")
        self.keys = tuple(keys)
        entries = [spaces[key] for key in self.keys]
        if not all(isinstance(entry, gymnasium.spaces.Box) for entry in entries):
            raise ValueError(f"ConcatenatedKeys needs Box entries under {list(keys)}, got {spaces}")
        boxes = cast(list[gymnasium.spaces.Box], entries)
        self.observation_space = gymnasium.spaces.Box(
            np.concatenate([np.ravel(box.low) for box in boxes]), np.concatenate([np.ravel(box.high) for box in boxes]),
            dtype=np.result_type(*[box.dtype for box in boxes]))

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        return np.concatenate([np.ravel(observation[key]) for key in self.keys]).astype(self.observation_space.dtype)


def make_robotics_env(env_id: str, seed: int | None, rank: int = 0) -> gymnasium.Env:
    """baselines' goal-based robotics env (gymnasium-robotics' Fetch/Hand): observation and desired goal flattened
    into one vector, monitored with `is_success`, seeded with `seed`. Needs the `robotics` extra."""
    if not register_robotics_envs():
        raise ImportError(f"make_robotics_env needs gymnasium-robotics: {ROBOTICS_EXTRA}")
    set_global_seeds(seed)
    env: gymnasium.Env = gymnasium.make(import_env_module(env_id))
    env = ConcatenatedKeys(env, ("observation", "desired_goal"))
    if seed is not None:
        _seed_env(env, seed)
    logger_dir = logger.get_dir()
    return Monitor(env, logger_dir and os.path.join(logger_dir, str(rank)), info_keywords=("is_success",))


def arg_parser() -> argparse.ArgumentParser:
    """An empty parser that shows defaults in --help."""
    return argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def timestep_count(value: str) -> int:
    """A whole number of steps, also written as a float (`1e6`, as run.py's --num_timesteps takes it)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of steps, got {value!r}") from None
    if not number.is_integer() or number < 0:
        raise argparse.ArgumentTypeError(f"a whole number of steps >= 0, got {value!r}")
    return int(number)


def atari_arg_parser() -> argparse.ArgumentParser:
    """baselines' parser of its run_atari.py scripts: --env, --seed, --num-timesteps (or run.py's
    --num_timesteps=1e6 spelling)."""
    parser = arg_parser()
    parser.add_argument("--env", help="environment id", default="BreakoutNoFrameskip-v4")
    parser.add_argument("--seed", help="RNG seed", type=int, default=0)
    parser.add_argument("--num-timesteps", "--num_timesteps", type=timestep_count, default=int(10e6))
    return parser


def mujoco_arg_parser() -> argparse.ArgumentParser:
    """baselines' parser of its run_mujoco.py scripts: --env (a v5 id here; baselines' default was Reacher-v2),
    --seed, --num-timesteps, --play."""
    parser = arg_parser()
    parser.add_argument("--env", help="environment id", type=str, default="Reacher-v5")
    parser.add_argument("--seed", help="RNG seed", type=int, default=0)
    parser.add_argument("--num-timesteps", "--num_timesteps", type=timestep_count, default=int(1e6))
    parser.add_argument("--play", default=False, action="store_true")
    return parser


def robotics_arg_parser() -> argparse.ArgumentParser:
    """baselines' parser of its robotics scripts: --env (default FetchReach-v4 here; baselines': FetchReach-v0),
    --seed, --num-timesteps."""
    parser = arg_parser()
    parser.add_argument("--env", help="environment id", type=str, default="FetchReach-v4")
    parser.add_argument("--seed", help="RNG seed", type=int, default=None)
    parser.add_argument("--num-timesteps", "--num_timesteps", type=timestep_count, default=int(1e6))
    return parser


DEFAULT_ENV_TIMEOUT_S = 600.0  # generous: loading a ROM or a slow reset never comes near it; a hang does


def common_arg_parser() -> argparse.ArgumentParser:
    """baselines' `run` flags and the env options; anything else is parsed as an extra `--name=value`
    hyperparameter (`baselines_tf2.run` adds the training flags: precision, checkpoints, determinism)."""
    parser = arg_parser()
    parser.add_argument("--env", type=str, default="BreakoutNoFrameskip-v4",
                        help="environment id: gymnasium's, Atari's (ale-py), a retro game's (retro extra), or a "
                             f"goal-based robotics one such as FetchReach-v4 ({ROBOTICS_EXTRA}); 'module:EnvId' "
                             "imports module first")
    parser.add_argument("--env_type", type=str, default=None,
                        help="env type when it cannot be told from the id: atari, retro, mujoco, robotics, "
                             "classic_control, box2d, ...")
    parser.add_argument("--seed", help="random seed", type=int, default=None)
    parser.add_argument("--alg", help="algorithm", type=str, default="ppo2")
    parser.add_argument("--num_timesteps", type=float, default=1e6)
    parser.add_argument("--network", help="network type (mlp, cnn, lstm, cnn_lstm, conv_only, ...)", default=None)
    parser.add_argument("--gamestate", help="game state to load (retro games only)", default=None)
    parser.add_argument("--extra_import", help="module to import before the env is made (e.g. one registering "
                        "custom envs), as baselines'", default=None, type=str)
    parser.add_argument("--num_env", help="number of parallel envs; default: number of cores", default=None, type=int)
    parser.add_argument("--reward_scale", help="reward scale factor", default=1.0, type=float)
    parser.add_argument("--save_path", help="where to save the trained model", default=None, type=str)
    parser.add_argument("--save_video_interval", help="record a video every N steps; 0 = never", default=0, type=int)
    parser.add_argument("--save_video_length", help="length of recorded videos, in steps", default=200, type=int)
    parser.add_argument("--log_path", help="directory for logs, monitor files and checkpoints", default=None, type=str)
    parser.add_argument("--play", default=False, action="store_true")
    parser.add_argument("--env_timeout", type=float, default=DEFAULT_ENV_TIMEOUT_S,
                        help="seconds an env worker may take to answer before the run stops with an error")
    parser.add_argument("--restart_crashed_envs", action="store_true",
                        help="restart an env worker that crashed or hung and go on (counted as env_restarts in the "
                             "logs) instead of stopping the run")
    return parser


class UsageError(ValueError):
    """A command-line mistake: the CLI prints it with the usage and exits 2."""


def parse_unknown_args(args: Sequence[str]) -> dict[str, str]:
    """The tokens an argument parser left, ['--nsteps=128', '--lr', '2.5e-4'], as {'nsteps': '128', 'lr': '2.5e-4'}:
    values stay strings, as baselines' (its run.py's parse_cmdline_kwargs evaluates them). A token that is not
    `--name=value` or `--name value` is a UsageError (baselines dropped it silently)."""
    parsed: dict[str, str] = {}
    tokens = iter(args)
    for token in tokens:
        if not token.startswith("--") or token == "--":
            raise UsageError(f"unexpected argument {token!r}; extra options look like --name=value")
        key, has_value, value = token[2:].partition("=")
        if not has_value:
            following = next(tokens, None)
            if following is None or following.startswith("--"):
                raise UsageError(f"--{key} needs a value (write --{key}=VALUE)")
            value = following
        parsed[key] = value
    return parsed

