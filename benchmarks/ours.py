"""Our side of `compare_peers.py`: one measurement of baselines_tf2 per run, printed as one JSON line.

    python benchmarks/ours.py ppo_breakout --timesteps 20480
    python benchmarks/ours.py dqn_breakout --timesteps 6000 --prioritized 1 [--q_network sb3]
    python benchmarks/ours.py learner --seconds 10
    python benchmarks/ours.py act --calls 300
    python benchmarks/ours.py env --steps 1000

The peer's counterpart is `peer_sb3.py`; both take their settings from `bench_common.py`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any, Callable

import numpy as np
from bench_common import (
    ACT_BATCH,
    DQN_SETTINGS,
    ENV_ID,
    FRAME_STACK,
    LEARNER_MINIBATCH,
    N_ACTIONS,
    NUM_ENV,
    OBS_SHAPE_NHWC,
    PPO_SETTINGS,
    PhaseTimer,
    calls_per_second,
    dqn_clock_start,
    emit,
    latency_ms,
    measurement_parser,
    ppo_result,
    random_actions,
    synthetic_minibatch,
)

ATARI_VEC_ENV_KIND = "shmem"  # what `baselines_tf2.run` builds for Atari
PRECISIONS = ("float32", "mixed_bfloat16")  # the policies' `precision` options
# deepq.learn overrides that give SB3 DQN's Q-network and update: the Nature CNN (VALID padding, one 512-unit
# layer, 1.7M parameters), no dueling streams, no double Q.
SB3_Q_NETWORK = dict(padding="valid", hiddens=[512], dueling=False, double_q=False)


def tf_versions() -> dict[str, Any]:
    """TensorFlow and Keras versions and TF's thread settings (0 means one thread per core)."""
    import keras
    import tensorflow as tf

    return {
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def make_policy(precision: str) -> Any:
    """The Nature-CNN actor-critic for Breakout-shaped observations, built standalone."""
    import gymnasium

    from baselines_tf2.nn.policies import PolicyWithValue

    observation_space = gymnasium.spaces.Box(0, 255, OBS_SHAPE_NHWC, np.uint8)
    return PolicyWithValue(observation_space, gymnasium.spaces.Discrete(N_ACTIONS), "cnn", precision=precision)


def measure_ppo_breakout(args: argparse.Namespace) -> dict[str, Any]:
    """ppo2.learn on 8 Breakout envs (ShmemVecEnv + VecFrameStack 4); steady steps/s from the second update on."""
    from baselines_tf2 import logger
    from baselines_tf2.common.cmd_util import make_atari_env
    from baselines_tf2.common.vec_env import VecFrameStack
    from baselines_tf2.on_policy.runner import Runner
    from baselines_tf2.ppo2 import ppo2
    from baselines_tf2.ppo2.model import PPO2Model

    nbatch = NUM_ENV * int(PPO_SETTINGS["nsteps"])
    nupdates = args.timesteps // nbatch
    if nupdates < 2:
        raise SystemExit(f"--timesteps must cover at least 2 updates of {nbatch} steps, got {args.timesteps}")
    phases = PhaseTimer()
    phases.wrap(Runner, "run", "rollout")
    phases.wrap(PPO2Model, "update", "train")
    marks: dict[str, float] = {}

    def after_update(local_vars: dict[str, Any]) -> None:
        if local_vars["update"] == 1:
            marks["steady_start"] = time.perf_counter()

    start = time.perf_counter()
    env = VecFrameStack(make_atari_env(ENV_ID, NUM_ENV, args.seed, vec_env_kind=ATARI_VEC_ENV_KIND), FRAME_STACK)
    try:
        with tempfile.TemporaryDirectory() as log_dir, logger.scoped_configure(dir=log_dir, format_strs=[]):
            ppo2.learn(
                network="cnn", env=env, total_timesteps=args.timesteps, seed=args.seed,
                nsteps=PPO_SETTINGS["nsteps"], noptepochs=PPO_SETTINGS["noptepochs"],
                nminibatches=PPO_SETTINGS["nminibatches"], lr=PPO_SETTINGS["lr"],
                cliprange=PPO_SETTINGS["cliprange"], ent_coef=PPO_SETTINGS["ent_coef"],
                vf_coef=PPO_SETTINGS["vf_coef"], max_grad_norm=PPO_SETTINGS["max_grad_norm"],
                gamma=PPO_SETTINGS["gamma"], lam=PPO_SETTINGS["lam"], precision=args.precision,
                callback=after_update,
            )
        end = time.perf_counter()
    finally:
        env.close()
    return ppo_result(f"ppo2.learn, {ATARI_VEC_ENV_KIND}, {args.precision}", nupdates, nbatch, start, end,
                      marks["steady_start"], phases, timesteps=nupdates * nbatch, **tf_versions())


def measure_dqn_breakout(args: argparse.Namespace) -> dict[str, Any]:
    """deepq.learn on one Breakout env with atari() defaults; steps/s from `learning_starts + measure_after` on."""
    from baselines_tf2 import deepq, logger
    from baselines_tf2.common.cmd_util import make_vec_env
    from baselines_tf2.deepq.defaults import atari

    learning_starts = int(DQN_SETTINGS["learning_starts"])
    clock_from = dqn_clock_start(args.timesteps, args.measure_after)
    hyperparameters = {**atari(), **DQN_SETTINGS, "prioritized_replay": bool(args.prioritized),
                       "precision": args.precision, "train_in_background": bool(args.train_in_background)}
    if args.q_network == "sb3":
        hyperparameters.update(SB3_Q_NETWORK)
    marks: dict[str, float] = {}

    def before_step(local_vars: dict[str, Any], _globals: dict[str, Any]) -> bool:
        step = local_vars["t"]
        if step == 0:
            marks["first_step"] = time.perf_counter()
        elif step == learning_starts:
            marks["learning_starts"] = time.perf_counter()
        elif step == clock_from:
            marks["clock_from"] = time.perf_counter()
        return False

    env = make_vec_env(ENV_ID, "atari", 1, args.seed, wrapper_kwargs={"frame_stack": True})
    try:
        with tempfile.TemporaryDirectory() as log_dir, logger.scoped_configure(dir=log_dir, format_strs=[]):
            deepq.learn(env, total_timesteps=args.timesteps, seed=args.seed, callback=before_step,
                        **hyperparameters)
        end = time.perf_counter()
    finally:
        env.close()
    replay = "prioritized" if args.prioritized else "uniform"
    return {
        "config": f"deepq.learn, {args.q_network} Q-network, {replay} replay, {args.precision}"
                  + (", training in background" if args.train_in_background else ""),
        "value": (args.timesteps - clock_from) / (end - marks["clock_from"]),
        "unit": "steps/s", "measured_steps": args.timesteps - clock_from, "measured_from_step": clock_from,
        "sps_before_learning": learning_starts / (marks["learning_starts"] - marks["first_step"]),
        "prioritized_replay": bool(args.prioritized), "dueling": hyperparameters["dueling"],
        "double_q": hyperparameters.get("double_q", True),
        **tf_versions(),
    }


def ppo_update_on_fixed_minibatch(precision: str, seed: int) -> Callable[[], dict[str, Any]]:
    """A call of PPO2Model.train_step on one prebuilt minibatch of 256 random Breakout frames."""
    import tensorflow as tf

    from baselines_tf2.nn.tf_util import set_global_seeds
    from baselines_tf2.on_policy.learner import Minibatch
    from baselines_tf2.ppo2.model import PPO2Model

    set_global_seeds(seed)
    model = PPO2Model(make_policy(precision), ent_coef=PPO_SETTINGS["ent_coef"], vf_coef=PPO_SETTINGS["vf_coef"],
                      max_grad_norm=PPO_SETTINGS["max_grad_norm"])
    model.set_learning_rate(PPO_SETTINGS["lr"])
    data = synthetic_minibatch(LEARNER_MINIBATCH, seed)
    batch = Minibatch(
        obs=tf.constant(data["obs"]), returns=tf.constant(data["returns"]),
        masks=tf.zeros([LEARNER_MINIBATCH], tf.float32), actions=tf.constant(data["actions"]),
        values=tf.constant(data["values"]), neglogpacs=tf.constant(data["neglogpacs"]),
        states=tf.zeros([0, 0], tf.float32),
    )
    model.set_cliprange(PPO_SETTINGS["cliprange"])
    return lambda: model.train_step(batch)


def measure_learner(args: argparse.Namespace) -> dict[str, Any]:
    """PPO2Model.train_step on one prebuilt minibatch of 256 Breakout frames: samples/s."""
    train_step = ppo_update_on_fixed_minibatch(args.precision, args.seed)

    def train_once() -> dict[str, float]:
        return {name: float(value) for name, value in train_step().items()}

    steps, seconds = calls_per_second(train_once, args.seconds, warmup=args.warmup)
    return {
        "config": f"PPO2Model.train_step, {args.precision}", "value": steps * LEARNER_MINIBATCH / seconds,
        "unit": "samples/s", "train_steps": steps, "seconds": seconds, "ms_per_step": 1e3 * seconds / steps,
        **tf_versions(),
    }


def measure_act(args: argparse.Namespace) -> dict[str, Any]:
    """PolicyWithValue.step on 8 observations (NumPy in, NumPy out): latency per call."""
    from baselines_tf2.nn.tf_util import set_global_seeds

    set_global_seeds(args.seed)
    policy = make_policy(args.precision)
    obs = synthetic_minibatch(ACT_BATCH, args.seed)["obs"]
    timing = latency_ms(lambda: policy.step(obs), args.calls, warmup=args.warmup)
    return {"config": f"PolicyWithValue.step, {args.precision}", "value": timing["median_ms"], "unit": "ms", **timing,
            "calls": args.calls, **tf_versions()}


def measure_env(args: argparse.Namespace) -> dict[str, Any]:
    """8 Breakout envs via make_atari_env (ShmemVecEnv, default envs per worker) + VecFrameStack 4, random actions."""
    from baselines_tf2.common.cmd_util import envs_per_worker, make_atari_env
    from baselines_tf2.common.vec_env import VecFrameStack

    actions = random_actions(args.warmup + args.steps, NUM_ENV, args.seed)
    env = VecFrameStack(make_atari_env(ENV_ID, NUM_ENV, args.seed, vec_env_kind=ATARI_VEC_ENV_KIND), FRAME_STACK)
    try:
        env.reset()
        for batch in actions[: args.warmup]:
            env.step(batch)
        start = time.perf_counter()
        for batch in actions[args.warmup :]:
            env.step(batch)
        seconds = time.perf_counter() - start
    finally:
        env.close()
    return {
        "config": f"ShmemVecEnv, {envs_per_worker(NUM_ENV)} envs/worker", "value": args.steps * NUM_ENV / seconds,
        "unit": "steps/s", "batched_steps": args.steps, "seconds": seconds,
    }


MEASUREMENTS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "ppo_breakout": measure_ppo_breakout,
    "dqn_breakout": measure_dqn_breakout,
    "learner": measure_learner,
    "act": measure_act,
    "env": measure_env,
}


def main() -> None:
    parser = measurement_parser(__doc__, MEASUREMENTS)
    parser.add_argument("--prioritized", type=int, choices=(0, 1), default=1, help="dqn_breakout replay")
    parser.add_argument("--train_in_background", type=int, choices=(0, 1), default=0,
                        help="dqn_breakout: run each gradient step while the next env steps are played")
    parser.add_argument("--q_network", choices=("baselines", "sb3"), default="baselines",
                        help="dqn_breakout: baselines' atari() Q-network or SB3 DQN's (see SB3_Q_NETWORK)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="ppo_breakout / dqn_breakout / learner / act")
    args = parser.parse_args()
    emit({"measurement": args.measurement, "side": "ours", **MEASUREMENTS[args.measurement](args)})


if __name__ == "__main__":
    main()
