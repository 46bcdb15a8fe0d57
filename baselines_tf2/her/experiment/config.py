"""baselines' `her.experiment.config`: HER's parameter dicts and the helpers that read an env from them. No
TensorFlow here.

`DEFAULT_PARAMS` and `DEFAULT_ENV_PARAMS` are `baselines_tf2.her.config`'s (the fields of its typed HERConfig, which
`her.learn` trains with). `prepare_params`, `configure_dims` and `configure_her` work as baselines' did on a
gymnasium goal env (gymnasium-robotics' Fetch and Hand envs); `configure_ddpg` built a TensorFlow 1 graph and
raises NotImplementedError naming the TF2 way.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NoReturn

import gymnasium
import numpy as np

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import get_env_type, make_env
from baselines_tf2.her.config import DEFAULT_ENV_PARAMS, DEFAULT_PARAMS
from baselines_tf2.her.her_sampler import Sampler, make_sample_her_transitions

__all__ = ["CACHED_ENVS", "DEFAULT_ENV_PARAMS", "DEFAULT_PARAMS", "cached_make_env", "configure_ddpg",
           "configure_dims", "configure_her", "log_params", "prepare_params", "simple_goal_subtract"]

EnvFactory = Callable[..., gymnasium.Env]

# The parameters baselines' prepare_params gathered into params['ddpg_params'] (network_class and scope were TF1
# graph settings our DEFAULT_PARAMS does not hold; they are moved too when a caller gives them).
DDPG_PARAM_NAMES = ("buffer_size", "hidden", "layers", "network_class", "polyak", "batch_size", "Q_lr", "pi_lr",
                    "norm_eps", "norm_clip", "max_u", "action_l2", "clip_obs", "scope", "relative_goals")

CACHED_ENVS: dict[EnvFactory, gymnasium.Env] = {}


def cached_make_env(make_env: EnvFactory) -> gymnasium.Env:
    """The env `make_env()` builds, built once per factory (for reading its spaces and compute_reward)."""
    if make_env not in CACHED_ENVS:
        CACHED_ENVS[make_env] = make_env()
    return CACHED_ENVS[make_env]


def prepare_params(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """baselines' prepare_params on a copy of `kwargs` (which needs 'env_name'): adds 'make_env' (a factory of the
    goal env, Dict observations kept; `make_env(subrank)` also writes a monitor file in the logger's folder, as
    baselines' did), 'T' (the env's max_episode_steps) and 'gamma' (1 - 1/T unless set), splits 'lr' into pi_lr
    and Q_lr, and moves the DDPG parameters into 'ddpg_params', each also kept as '_<name>'."""
    params = dict(kwargs)
    if "env_name" not in params:
        raise ValueError("prepare_params needs params['env_name'], the goal env's id (e.g. 'FetchReach-v4')")
    env_name = str(params["env_name"])

    def make_goal_env(subrank: int | None = None) -> gymnasium.Env:
        """The goal env, monitored under the logger's folder when `subrank` is given."""
        return make_env(env_name, get_env_type(env_name), mpi_rank=logger.mpi_rank_from_environment(),
                        subrank=subrank or 0, flatten_dict_observations=False,
                        logger_dir=logger.get_dir() if subrank is not None else None)

    params["make_env"] = make_goal_env
    episode_length = getattr(cached_make_env(make_goal_env).spec, "max_episode_steps", None)
    if not episode_length:
        raise ValueError(f"{env_name!r} has no time limit: HER plays episodes of the env's max_episode_steps")
    params["T"] = int(episode_length)
    if isinstance(params.get("max_u"), list):
        params["max_u"] = np.array(params["max_u"])
    if params.get("gamma") is None:  # baselines: always 1 - 1/T; here, as her.learn, an explicit gamma is kept
        params["gamma"] = 1.0 - 1.0 / params["T"]
    if "lr" in params:
        params["pi_lr"] = params["Q_lr"] = params.pop("lr")
    ddpg_params = {}
    for name in DDPG_PARAM_NAMES:
        if name in params:
            ddpg_params[name] = params["_" + name] = params.pop(name)
    params["ddpg_params"] = ddpg_params
    return params


def log_params(params: Mapping[str, Any], logger: Any = logger) -> None:
    """Log each parameter as 'name: value', in name order."""
    for key in sorted(params):
        logger.info(f"{key}: {params[key]}")


def configure_her(params: Mapping[str, Any]) -> Sampler:
    """The sampler (`her_sampler.make_sample_her_transitions`) for params' replay_strategy and replay_k, rewarding
    with the compute_reward of the env `params['make_env']` builds. Unlike baselines, `params` is left as it is
    (baselines renamed the two keys to '_replay_strategy' and '_replay_k')."""
    env = cached_make_env(params["make_env"])
    compute_reward = env.unwrapped.compute_reward  # type: ignore[attr-defined]  # a goal env's

    def reward_fun(ag_2: np.ndarray, g: np.ndarray, info: Mapping[str, np.ndarray]) -> Any:
        """The env's rewards for a batch of achieved and desired goals (vectorised, as gymnasium-robotics')."""
        return compute_reward(ag_2, g, info)  # positional: gymnasium-robotics names its second parameter `goal`

    return make_sample_her_transitions(params["replay_strategy"], params["replay_k"], reward_fun)


def simple_goal_subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b for goals of the same shape (ValueError otherwise)."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"goals of different shapes: {np.shape(a)} and {np.shape(b)}")
    return np.subtract(a, b)


def configure_ddpg(dims: Any, params: Any, reuse: bool = False, use_mpi: bool = True,
                   clip_return: bool = True) -> NoReturn:
    """TF1 only: raises NotImplementedError (it built baselines' TensorFlow 1 DDPG graph)."""
    raise NotImplementedError(
        "baselines' her.experiment.config.configure_ddpg built a TensorFlow 1 graph; train with "
        "baselines_tf2.her.her.learn(network='mlp', env=..., total_timesteps=...), or build the agent with "
        "baselines_tf2.her.ddpg.DDPG(observation_space, action_space, 'mlp', network_kwargs, HERConfig(...))")


def configure_dims(params: Mapping[str, Any]) -> dict[str, int]:
    """{'o', 'u', 'g', 'info_<key>': size} of the env `params['make_env']` builds: its observation, action and goal
    sizes, and the size of each entry of the info a random step returns (1 for a scalar), as baselines measured
    them."""
    env = cached_make_env(params["make_env"])
    env.reset()
    obs, _reward, _terminated, _truncated, info = env.step(env.action_space.sample())
    dims = {"o": int(np.shape(obs["observation"])[0]), "u": int(np.prod(env.action_space.shape or ())),
            "g": int(np.shape(obs["desired_goal"])[0])}
    for key, value in info.items():
        dims[f"info_{key}"] = int(np.reshape(value, -1).shape[0])  # a scalar counts as one value
    return dims
