"""TensorFlow thread settings against the calls our learners make, one subprocess per setting (TF fixes its
thread pools at start-up), settings alternating round-robin:

    python benchmarks/tf_threads.py --repeats 3 [--precision mixed_bfloat16]

Rows are (intra-op, inter-op) thread counts, 0 meaning TF's default (one per core); columns are median
milliseconds per call of: PPO acting on 8 frames, a PPO minibatch update of 256, DQN acting on one frame and a
DQN update of 32 (SB3's Q-network shape). Lower is better; the default row is the reference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = ((0, 0), (1, 1), (2, 1), (1, 2))
CALLS = ("ppo_act_8", "ppo_train_256", "dqn_act_1", "dqn_train_32")


def measure(intra: int, inter: int, precision: str, seconds: float) -> dict[str, float]:
    """Median ms per call of each of CALLS under the given thread settings (run inside the subprocess)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    import gymnasium
    import numpy as np

    from baselines_tf2.deepq.act import build_act
    from baselines_tf2.deepq.deepq_learner import TransitionBatch
    from baselines_tf2.nn.policies import PolicyWithValue
    from baselines_tf2.on_policy.learner import Minibatch
    from baselines_tf2.ppo2.model import PPO2Model

    rng = np.random.default_rng(0)
    obs_space = gymnasium.spaces.Box(0, 255, (84, 84, 4), np.uint8)
    actions = gymnasium.spaces.Discrete(4)
    frames = lambda n: rng.integers(0, 256, (n, 84, 84, 4), dtype=np.uint8)  # noqa: E731
    policy = PolicyWithValue(obs_space, actions, "cnn", precision=precision)
    ppo = PPO2Model(policy, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)
    minibatch = Minibatch(obs=tf.constant(frames(256)), returns=tf.zeros([256]), masks=tf.zeros([256]),
                          actions=tf.constant(rng.integers(0, 4, 256)), values=tf.zeros([256]),
                          neglogpacs=tf.fill([256], 1.386), states=tf.zeros([0, 0]))
    cliprange = tf.constant(0.1)
    dqn = build_act(obs_space, actions, "conv_only", {"padding": "valid", "hiddens": [512], "dueling": False},
                    lr=1e-4, double_q=False, precision=precision).model
    transitions = TransitionBatch(obs=tf.constant(frames(32)), actions=tf.constant(rng.integers(0, 4, 32)),
                                  rewards=tf.zeros([32]), next_obs=tf.constant(frames(32)),
                                  discounts=tf.fill([32], 0.99), weights=tf.ones([32]))
    ppo_obs, dqn_obs = frames(8), frames(1)
    calls = {
        "ppo_act_8": lambda: policy.step(ppo_obs),
        "ppo_train_256": lambda: float(ppo.train_step(minibatch, cliprange)["policy_loss"]),
        "dqn_act_1": lambda: dqn.act(dqn_obs, 0.0),
        "dqn_train_32": lambda: float(dqn.train_step(transitions)["loss"]),
    }
    result = {}
    for name, call in calls.items():
        for _ in range(5):
            call()
        samples = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        result[name] = 1e3 * statistics.median(samples)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per call type per run")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    parser.add_argument("--worker", nargs=2, type=int, metavar=("INTRA", "INTER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(*args.worker, args.precision, args.seconds)))
        return
    runs: dict[tuple[int, int], list[dict[str, float]]] = {setting: [] for setting in SETTINGS}
    for repeat in range(args.repeats):
        for setting in SETTINGS if repeat % 2 == 0 else SETTINGS[::-1]:
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", *map(str, setting),
                       "--precision", args.precision, "--seconds", str(args.seconds)]
            completed = subprocess.run(command, capture_output=True, text=True, check=True)
            runs[setting].append(json.loads(completed.stdout.strip().splitlines()[-1]))
            print(f"run {repeat + 1}/{args.repeats} intra/inter {setting}: done", file=sys.stderr, flush=True)
    print(f"`python {' '.join(sys.argv)}`; {args.precision}; median ms per call over {args.repeats} runs\n")
    print("| intra, inter threads | " + " | ".join(CALLS) + " |")
    print("|---|" + "---|" * len(CALLS))
    for (intra, inter), results in runs.items():
        cells = [f"{statistics.median(run[name] for run in results):.2f}" for name in CALLS]
        label = "default (0, 0)" if (intra, inter) == (0, 0) else f"{intra}, {inter}"
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
