"""The hyperparameters TD3 and SAC share (one dataclass each extends), with their checks. No TensorFlow here."""

from __future__ import annotations

import dataclasses
from typing import Any

from baselines_tf2.common.validation import require_int, require_number, whole_floats_as_ints
from baselines_tf2.off_policy.loop import Schedule

REPLAY_BUFFER_NAMES = ("HerReplayBuffer", "her")  # how a config (and the command line) names HER's replay
HER_REPLAY_KWARGS = ("n_sampled_goal", "goal_selection_strategy")  # what replay_buffer_kwargs may set
STRATEGIES = ("future", "final", "episode", "none")  # HER's goal selection strategies (baselines' replay_strategy)

TD3_SAC_NETWORK = {"num_layers": 2, "num_hidden": 256, "activation": "relu"}  # both papers' MuJoCo networks


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig:
    """Replay, update cadence, targets, evaluation and checkpoints of a step-and-update learner (TD3, SAC)."""

    buffer_size: int = 1_000_000
    learning_starts: int = 1000  # env steps of uniform random actions before the first update
    batch_size: int = 256
    tau: float = 0.005  # Polyak coefficient of the target networks
    gamma: float = 0.99
    train_freq: int = 1  # env steps (per env) between update rounds
    gradient_steps: int = 1  # updates per round
    normalize_observations: bool = False  # running mean/std of observations, clipped to +-5 (DDPG's)
    log_interval: int = 1000  # env steps between log lines
    eval_freq: int = 0  # env steps between evaluations on eval_env; 0 = never
    eval_episodes: int = 10
    checkpoint_freq: int = 50_000  # env steps between checkpoints in <log dir>/checkpoints
    save_replay: bool = False  # checkpoints also hold the replay memory, so a resumed run trains on at once
    precision: str = "float32"  # small MLPs: float32 only
    # 'HerReplayBuffer' (or the class baselines_tf2.her.replay_buffer.HerReplayBuffer): hindsight goals on a goal
    # env's Dict observations, as stable-baselines3's replay_buffer_class; None: uniform replay
    replay_buffer_class: str | None = None
    replay_buffer_kwargs: dict[str, Any] | None = None  # HerReplayBuffer's n_sampled_goal, goal_selection_strategy

    def __post_init__(self) -> None:
        whole_floats_as_ints(self)
        # the class given to learn() is kept by name: the config is data (checkpoints hold it as JSON)
        object.__setattr__(self, "replay_buffer_class", getattr(self.replay_buffer_class, "__name__",
                                                                self.replay_buffer_class))
        if self.replay_buffer_class not in (None, *REPLAY_BUFFER_NAMES):
            raise ValueError(f"replay_buffer_class must be None or {REPLAY_BUFFER_NAMES[0]!r}, got "
                             f"{self.replay_buffer_class!r}")
        if self.replay_buffer_kwargs is not None:
            check_her_replay_kwargs(self.replay_buffer_kwargs, self.replay_buffer_class)
        for name in ("buffer_size", "batch_size", "train_freq", "gradient_steps", "log_interval", "eval_episodes"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("learning_starts", "eval_freq", "checkpoint_freq"):
            require_int(name, getattr(self, name), minimum=0)
        require_number("tau", self.tau, above=0, at_most=1)
        require_number("gamma", self.gamma, at_least=0, at_most=1)
        if self.precision != "float32":
            raise ValueError(f"TD3 and SAC compute in float32 (their small networks gain nothing from bfloat16), "
                             f"got precision={self.precision!r}")

    def schedule(self, num_envs: int) -> Schedule:
        """The iteration: `train_freq` steps on each env, then `gradient_steps` updates, random actions first."""
        return Schedule(rollout_steps=self.train_freq, train_steps=self.gradient_steps, batch_size=self.batch_size,
                        learning_starts=self.learning_starts, random_steps=self.learning_starts,
                        log_every=max(1, self.log_interval // (self.train_freq * num_envs)),
                        checkpoint_every=self.checkpoint_freq)


def check_her_replay_kwargs(kwargs: Any, replay_buffer_class: Any) -> None:
    """ValueError unless `kwargs` are HerReplayBuffer's options with valid values, given with that class (so a
    mistake in them is a usage error before anything is built, not a failure when the replay memory is made)."""
    if not isinstance(kwargs, dict):
        raise ValueError(f"replay_buffer_kwargs must be a dict, got {kwargs!r}")
    if kwargs and replay_buffer_class is None:
        raise ValueError("replay_buffer_kwargs were given without replay_buffer_class")
    unknown = sorted(set(kwargs) - set(HER_REPLAY_KWARGS))
    if unknown:
        raise ValueError(f"unknown replay_buffer_kwargs {unknown}; HerReplayBuffer takes "
                         f"{' and '.join(HER_REPLAY_KWARGS)}")
    if "n_sampled_goal" in kwargs:
        require_int("replay_buffer_kwargs' n_sampled_goal", kwargs["n_sampled_goal"], minimum=0)
    strategy = kwargs.get("goal_selection_strategy", STRATEGIES[0])
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown goal_selection_strategy {strategy!r} in replay_buffer_kwargs; valid: "
                         f"{', '.join(STRATEGIES)}")
