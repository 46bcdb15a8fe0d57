"""Where a compiled training step spends its time, op by op, from TensorFlow's profiler trace.

    python benchmarks/profile_step.py dqn [--precision mixed_bfloat16] [--steps 50] [--top 25]
    python benchmarks/profile_step.py ppo [--precision float32]

`dqn` is deepq's update of 32 Breakout transitions with SB3's Q-network shape; `ppo` is PPO2's minibatch update of
256 frames. Prints milliseconds per step summed over TF's compute threads for the most expensive ops, so an op
split across both cores counts twice: this shows where the work goes, not the wall time. (This is how the Keras
Adam cost that `FusedAdam` removed was found.)
"""

from __future__ import annotations

import argparse
import collections
import glob
import tempfile
from typing import Callable

import numpy as np
from ours import SB3_Q_NETWORK, ppo_update_on_fixed_minibatch

DQN_BATCH = 32


def dqn_step(precision: str) -> Callable[[], object]:
    """deepq's compiled update on one fixed batch of random Breakout-shaped transitions."""
    import gymnasium
    import tensorflow as tf

    from baselines_tf2.deepq.act import build_act
    from baselines_tf2.deepq.deepq_learner import TransitionBatch

    network_kwargs = {key: value for key, value in SB3_Q_NETWORK.items() if key != "double_q"}
    network_kwargs["convs"] = [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
    observation_space = gymnasium.spaces.Box(0, 255, (84, 84, 4), np.uint8)
    act = build_act(observation_space, gymnasium.spaces.Discrete(4), "conv_only", network_kwargs, lr=1e-4,
                    double_q=SB3_Q_NETWORK["double_q"], precision=precision, seed=0)
    rng = np.random.default_rng(0)
    frames = tf.constant(rng.integers(0, 256, (DQN_BATCH, 84, 84, 4), dtype=np.uint8))
    batch = TransitionBatch(frames, tf.constant(rng.integers(0, 4, DQN_BATCH)), tf.ones([DQN_BATCH]), frames,
                            tf.fill([DQN_BATCH], 0.99), tf.ones([DQN_BATCH]))
    return lambda: act.model.train_step(batch)["loss"].numpy()


def ppo_step(precision: str) -> Callable[[], object]:
    """PPO2's compiled minibatch update on one fixed minibatch of random Breakout frames."""
    train_step = ppo_update_on_fixed_minibatch(precision, seed=0)
    return lambda: train_step()["loss"].numpy()


STEPS = {"dqn": dqn_step, "ppo": ppo_step}


def op_milliseconds(trace_dir: str, steps: int) -> collections.Counter[str]:
    """Milliseconds per step of each TF op on the compute threads, read from the profiler's XSpace file."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    totals: collections.Counter[str] = collections.Counter()
    for path in glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as handle:
            space.ParseFromString(handle.read())
        for plane in space.planes:
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):
                    continue
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name
                    if name != "ExecutorState::Process":
                        totals[name] += event.duration_ps / 1e9 / steps
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--precision", default="mixed_bfloat16", choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--steps", type=int, default=50, help="profiled steps (after 20 warm-up steps)")
    parser.add_argument("--top", type=int, default=25, help="ops to list")
    args = parser.parse_args()
    import tensorflow as tf

    step = STEPS[args.step](args.precision)
    for _ in range(20):
        step()
    with tempfile.TemporaryDirectory() as trace_dir:
        tf.profiler.experimental.start(trace_dir)
        for _ in range(args.steps):
            step()
        tf.profiler.experimental.stop()
        totals = op_milliseconds(trace_dir, args.steps)
    print(f"`python benchmarks/profile_step.py {args.step} --precision {args.precision} --steps {args.steps}`\n")
    print(f"all ops: {sum(totals.values()):.2f} ms per step (summed over compute threads)\n")
    print("| ms per step | op |\n|---|---|")
    for name, milliseconds in totals.most_common(args.top):
        print(f"| {milliseconds:.3f} | `{name}` |")


if __name__ == "__main__":
    main()
