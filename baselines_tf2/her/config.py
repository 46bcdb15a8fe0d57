"""HER's hyperparameters: baselines' `her/experiment/config.py` DEFAULT_PARAMS as one typed config, with the
per-env overrides. No TensorFlow here."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from baselines_tf2.common.validation import ArgumentError, require_int, require_number, whole_floats_as_ints
from baselines_tf2.her.replay_buffer import STRATEGIES

# baselines' DEFAULT_ENV_PARAMS (it named FetchReach-v1; gymnasium-robotics' ids are v4 now)
DEFAULT_ENV_PARAMS: dict[str, dict[str, Any]] = {
    f"FetchReach-v{version}": {"n_cycles": 10} for version in (1, 2, 3, 4)
}


@dataclasses.dataclass(frozen=True)
class HERConfig:
    """DDPG + HER hyperparameters; names and defaults are baselines' DEFAULT_PARAMS (per MPI rank, as there)."""

    max_u: float = 1.0  # actions are scaled to the action space's bounds (baselines: max absolute action)
    layers: int = 3  # hidden layers of the actor and the critic
    hidden: int = 256  # units per hidden layer (ReLU)
    Q_lr: float = 0.001  # critic learning rate (Adam)
    pi_lr: float = 0.001  # actor learning rate (Adam)
    buffer_size: int = 1_000_000  # transitions in the replay buffer
    polyak: float = 0.95  # target <- polyak * target + (1 - polyak) * main, once per cycle
    action_l2: float = 1.0  # quadratic penalty on the actor's actions (in units of max_u)
    clip_obs: float = 200.0  # observations and goals are clipped to +-clip_obs before normalization
    relative_goals: bool = False  # (baselines' option, never on in its configs: refused if set)
    n_cycles: int = 50  # cycles per epoch
    n_batches: int = 40  # updates per cycle
    batch_size: int = 256  # transitions per update
    n_test_rollouts: int = 10  # deterministic test episodes per env after each epoch
    test_with_polyak: bool = False  # (baselines' option, never on in its configs: refused if set)
    random_eps: float = 0.3  # probability of a uniformly random action while training
    noise_eps: float = 0.2  # std of the Gaussian action noise, as a fraction of max_u
    replay_strategy: str = "future"  # 'future' (HER) or 'none' (plain DDPG replay); 'final', 'episode' too
    replay_k: int = 4  # relabelled goals per real one: 1 - 1/(1 + replay_k) of each batch is relabelled
    norm_eps: float = 0.01  # the normalizer's std is at least this
    norm_clip: float = 5.0  # normalized inputs are clipped to +-norm_clip
    gamma: float | None = None  # None: 1 - 1/T, T the env's episode length (baselines)
    clip_return: bool = True  # clip Q targets to [-1/(1-gamma), 0] (the returns of -1/0 rewards)
    bc_loss: bool = False  # behaviour cloning loss on demonstrations (on when demo_file is given)
    q_filter: bool = False  # clone a demonstration's action only where the critic prefers it to the actor's
    num_demo: int = 100  # demonstration episodes read from demo_file
    demo_batch_size: int = 128  # demonstration transitions in each batch
    prm_loss_weight: float = 0.001  # weight of the actor's Q loss when cloning
    aux_loss_weight: float = 0.0078  # weight of the cloning loss
    checkpoint_freq: int = 50_000  # env steps between checkpoints in <log dir>/checkpoints
    save_replay: bool = False  # checkpoints also hold the replay buffer, so a resumed run trains on at once
    precision: str = "float32"  # small MLPs: float32 only

    def __post_init__(self) -> None:
        whole_floats_as_ints(self)
        for name in ("layers", "hidden", "buffer_size", "n_cycles", "n_batches", "batch_size", "n_test_rollouts",
                     "num_demo", "demo_batch_size"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("replay_k", "checkpoint_freq"):
            require_int(name, getattr(self, name), minimum=0)
        for name in ("Q_lr", "pi_lr", "clip_obs", "norm_eps", "norm_clip", "max_u"):
            require_number(name, getattr(self, name), above=0)
        for name in ("random_eps", "polyak"):
            require_number(name, getattr(self, name), at_least=0, at_most=1)
        for name in ("action_l2", "noise_eps", "prm_loss_weight", "aux_loss_weight"):
            require_number(name, getattr(self, name), at_least=0)
        if self.gamma is not None:
            require_number("gamma", self.gamma, at_least=0, below=1)
        if self.replay_strategy not in STRATEGIES:
            raise ValueError(f"unknown replay_strategy {self.replay_strategy!r}; valid: {', '.join(STRATEGIES)}")
        if self.relative_goals:
            raise ValueError("relative_goals=True (goals fed as g - ag) is not supported: baselines never enabled it "
                             "and its sampler did not apply it to relabelled goals")
        if self.test_with_polyak:
            raise ValueError("test_with_polyak=True (test episodes acted by the target actor) is not supported: "
                             "baselines' configs never set it; test episodes use the trained actor")
        if self.max_u != 1.0:
            raise ValueError(f"max_u={self.max_u}: actions are always scaled to the env's action bounds here; "
                             "change the env's action space instead")
        if self.precision != "float32":
            raise ValueError(f"her computes in float32, got precision={self.precision!r}")

    # The names baselines' DDPG learner reads (HER's agent extends `ddpg.ddpg_learner.DDPG`), in HER's terms.
    @property
    def actor_lr(self) -> float:
        return self.pi_lr

    @property
    def critic_lr(self) -> float:
        return self.Q_lr

    @property
    def tau(self) -> float:
        return 1.0 - self.polyak

    noise_type = "none"  # HER explores with noise_eps and random_eps instead
    normalize_observations = True
    normalize_returns = False
    popart = False
    critic_l2_reg = 0.0
    clip_norm = None
    param_noise_adaption_interval = 1

    def discount(self, episode_length: int) -> float:
        """gamma, or baselines' 1 - 1/T for episodes of T steps."""
        return self.gamma if self.gamma is not None else 1.0 - 1.0 / episode_length


DEFAULT_PARAMS: dict[str, Any] = dataclasses.asdict(HERConfig())  # baselines' name, for code that reads it


def config_for(env_id: str | None, override_params: Mapping[str, Any] | None,
               learn_arguments: Mapping[str, Any] | None = None, **arguments: Any) -> HERConfig:
    """HERConfig from the defaults, `learn_arguments` (learn()'s replay_strategy and clip_return), the env's
    DEFAULT_ENV_PARAMS, `override_params` and `arguments` (learn()'s other keywords), each overriding the ones
    before, as baselines' learn merged them; ArgumentError naming any unknown parameter and the known ones."""
    if override_params is not None and not isinstance(override_params, Mapping):
        raise ArgumentError(f"override_params must be a dict of HER parameters, got {override_params!r}")
    params: dict[str, Any] = dict(learn_arguments or {})
    params.update(DEFAULT_ENV_PARAMS.get(env_id or "", {}))
    params.update(override_params or {})
    params.update(arguments)
    if "lr" in params:  # baselines: lr sets both learning rates
        params["pi_lr"] = params["Q_lr"] = params.pop("lr")
    known = {field.name for field in dataclasses.fields(HERConfig)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ArgumentError(f"unknown HER parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return HERConfig(**params)
