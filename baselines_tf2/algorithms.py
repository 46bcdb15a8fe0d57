"""The algorithm table: where each algorithm lives and what shared code needs to know of it.

This is the one place that names the algorithms. The CLI (`run.py`) and the tools (play, evaluate, export) look
an algorithm up here by the name in `--alg` or in a checkpoint's metadata; adding an algorithm is one entry.
Entries hold import paths as strings, so reading the table imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlgorithmEntry:
    """Where an algorithm lives (module paths) and how the CLI and the tools treat it."""

    module: str  # holds learn() and the config class
    config: str  # the typed config: the one source of the algorithm's hyperparameters
    policy_loader: str  # "module:function" rebuilding the acting policy from (metadata, groups, path, nenvs=)
    defaults: str | None = None  # baselines' defaults.py: one function per env type returning learn() overrides
    model_keys: tuple[str, ...] = ()  # network_kwargs the policy or Q-head takes besides the torso's own
    vectorized: bool = True  # trains on many envs (PPO2, A2C) or steps one (DQN)
    discrete_actions_only: bool = False  # DQN picks among Discrete actions only
    continuous_actions_only: bool = False  # DDPG, TD3 and SAC act in Box spaces only
    feedforward_only: bool = False  # recurrent networks (lstm, ...) are refused: TRPO, DQN, DDPG, TD3, SAC and HER
    goal_observations_only: bool = False  # HER: Dict observations with observation/achieved_goal/desired_goal
    # keeps an env's Dict observations as they are (make_vec_env's flatten_dict_observations=False), as baselines'
    # run.py did for her; the others see them flattened into one vector
    dict_observations: bool = False
    learn_options: tuple[str, ...] = ()  # learn() parameters the CLI passes through besides the config's fields
    network_kwargs: bool = True  # the torso takes the registry network's kwargs (HER sizes its MLP by its config)
    default_num_env: int | None = None  # envs when --num_env is not given (None: the env type's rule)
    bf16_validated: bool = False  # --precision=auto may pick bfloat16: equal-step learning curves matched float32
    data_parallel: bool = False  # runs on several MPI ranks, averaging their gradients
    # baselines' run.py trained every algorithm on MuJoCo behind VecNormalize; TD3 and SAC (not baselines') take raw
    # observations and rewards, as in their papers and stable-baselines3 (SAC's entropy scale is in reward units)
    mujoco_vec_normalize: bool = True
    eval_epsilon: float | None = None  # evaluate's default: epsilon-greedy with this epsilon, or None to sample
    value_kind: str = "V(s)"  # what an exported model's 'values' output holds
    in_run_cli: bool = True  # `--alg` takes it (ppo1 is not in baselines' run.py: its checkpoints play, it trains
    # from Python or its run_mujoco / run_atari scripts)
    # the CLI gives TensorFlow one intra-op and one inter-op thread off Atari and retro, as baselines' run.py did for
    # every algorithm: PPO2 and TRPO on MuJoCo run faster so; A2C, DQN and DDPG differed within run-to-run noise and
    # keep baselines' setting. HER, TD3 and SAC, whose 256-unit networks train on batches of 256, ran slower on one
    # thread in every run and keep every core (docs/benchmarks.md, "TensorFlow thread settings")
    single_threaded_off_atari: bool = True


ALGORITHMS: dict[str, AlgorithmEntry] = {
    "ppo2": AlgorithmEntry(
        "baselines_tf2.ppo2.ppo2", "PPO2Config", "baselines_tf2.on_policy.saving:policy_from_checkpoint",
        defaults="baselines_tf2.ppo2.defaults", model_keys=("value_network",), bf16_validated=True,
        data_parallel=True,
    ),
    "a2c": AlgorithmEntry(
        "baselines_tf2.a2c.a2c", "A2CConfig", "baselines_tf2.on_policy.saving:policy_from_checkpoint",
        model_keys=("value_network",), data_parallel=True,
    ),
    "trpo_mpi": AlgorithmEntry(
        "baselines_tf2.trpo_mpi.trpo_mpi", "TRPOConfig", "baselines_tf2.on_policy.saving:policy_from_checkpoint",
        defaults="baselines_tf2.trpo_mpi.defaults", model_keys=("value_network",), data_parallel=True,
        default_num_env=1, feedforward_only=True,
    ),
    "ppo1": AlgorithmEntry(
        "baselines_tf2.ppo1.pposgd_simple", "PPO1Config", "baselines_tf2.on_policy.saving:policy_from_checkpoint",
        model_keys=("value_network",), data_parallel=True, in_run_cli=False,
    ),
    "deepq": AlgorithmEntry(
        "baselines_tf2.deepq.deepq", "DQNConfig", "baselines_tf2.deepq.act:act_from_checkpoint",
        defaults="baselines_tf2.deepq.defaults", model_keys=("hiddens", "dueling", "layer_norm"), vectorized=False,
        discrete_actions_only=True, feedforward_only=True,
        eval_epsilon=0.001,  # deepq.learn's eval_epsilon and the Rainbow-era protocol (Nature DQN used 0.05)
        value_kind="Q-values",
    ),
    "ddpg": AlgorithmEntry(
        "baselines_tf2.ddpg.ddpg", "DDPGConfig", "baselines_tf2.ddpg.ddpg:policy_from_checkpoint",
        value_kind="Q(s, a)", continuous_actions_only=True, default_num_env=1, feedforward_only=True,
        data_parallel=True,
    ),
    "her": AlgorithmEntry(
        "baselines_tf2.her.her", "HERConfig", "baselines_tf2.her.her:policy_from_checkpoint",
        value_kind="Q(s, a)", continuous_actions_only=True, default_num_env=1, feedforward_only=True,
        data_parallel=True, goal_observations_only=True, dict_observations=True, mujoco_vec_normalize=False,
        learn_options=("demo_file", "policy_save_interval", "override_params"), network_kwargs=False,
        single_threaded_off_atari=False,
    ),
    "td3": AlgorithmEntry(
        "baselines_tf2.td3.td3", "TD3Config", "baselines_tf2.td3.td3:policy_from_checkpoint",
        defaults="baselines_tf2.td3.defaults", value_kind="Q(s, a)", continuous_actions_only=True, default_num_env=1,
        feedforward_only=True, mujoco_vec_normalize=False, single_threaded_off_atari=False,
    ),
    "sac": AlgorithmEntry(
        "baselines_tf2.sac.sac", "SACConfig", "baselines_tf2.sac.sac:policy_from_checkpoint",
        defaults="baselines_tf2.sac.defaults", value_kind="Q(s, a)", continuous_actions_only=True, default_num_env=1,
        feedforward_only=True, mujoco_vec_normalize=False, single_threaded_off_atari=False,
    ),
}
