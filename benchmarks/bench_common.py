"""What both sides of `compare_peers.py` share, so ours and the peer run the same settings on the same data.

Imported by `ours.py` (our interpreter) and by `peer_sb3.py` (the peer's virtualenv), so it needs only the
standard library and NumPy, and never imports TensorFlow or torch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable

import numpy as np

ENV_ID = "BreakoutNoFrameskip-v4"
NUM_ENV = 8  # envs in the PPO and env-throughput measurements
FRAME_STACK = 4
N_ACTIONS = 4  # Breakout's minimal action set
OBS_SHAPE_NHWC = (84, 84, FRAME_STACK)  # what our policies take
OBS_SHAPE_NCHW = (FRAME_STACK, 84, 84)  # what SB3's CNN policies take (it transposes images itself)
LEARNER_MINIBATCH = 256
ACT_BATCH = 8

# PPO on Atari as baselines and SB3 both run it; constant lr and clip range on both sides.
PPO_SETTINGS: dict[str, float | int] = dict(
    nsteps=128, noptepochs=4, nminibatches=4, lr=2.5e-4, cliprange=0.1, ent_coef=0.01, vf_coef=0.5,
    max_grad_norm=0.5, gamma=0.99, lam=0.95,
)

# DQN on Atari: baselines' atari() defaults with a larger buffer and an early learning start.
DQN_SETTINGS: dict[str, float | int] = dict(
    train_freq=4, batch_size=32, buffer_size=100_000, learning_starts=1000, lr=1e-4,
    target_network_update_freq=1000, exploration_fraction=0.1, exploration_final_eps=0.01, gamma=0.99,
)


def measurement_parser(doc: str | None, measurements: Any) -> argparse.ArgumentParser:
    """The flags both sides take, with the same defaults, so a harness command means the same run on each side."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("measurement", choices=sorted(measurements))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timesteps", type=int, default=20480, help="ppo_breakout / dqn_breakout env steps")
    parser.add_argument("--measure_after", type=int, default=250,
                        help="dqn_breakout: steps after learning_starts before the clock starts")
    parser.add_argument("--seconds", type=float, default=10.0, help="learner: timed seconds")
    parser.add_argument("--calls", type=int, default=300, help="act: timed calls")
    parser.add_argument("--steps", type=int, default=1000, help="env: timed batched steps")
    parser.add_argument("--warmup", type=int, default=20, help="learner/act calls, env steps before timing")
    return parser


def emit(result: dict[str, Any]) -> None:
    """Print one JSON line of results on stdout: the harness reads the last line that parses as an object."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def latency_ms(call: Callable[[], object], calls: int, warmup: int) -> dict[str, float]:
    """Median and 90th percentile of the wall time of `call`, in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    samples = np.empty(calls)
    for index in range(calls):
        start = time.perf_counter()
        call()
        samples[index] = time.perf_counter() - start
    samples *= 1e3
    return {"median_ms": float(np.median(samples)), "p90_ms": float(np.percentile(samples, 90))}


def calls_per_second(call: Callable[[], object], seconds: float, warmup: int) -> tuple[int, float]:
    """(calls made, seconds taken) calling `call` repeatedly for about `seconds`, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        count += 1
    return count, time.perf_counter() - start


class PhaseTimer:
    """(start, end) of each call of chosen methods, by phase name (e.g. 'rollout', 'train'), for an update's split."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[float, float]]] = {}

    def wrap(self, owner: Any, method: str, phase: str) -> None:
        """Replace `owner.method` (a class's or an instance's) by a timed call of the original."""
        original = getattr(owner, method)
        calls = self.calls.setdefault(phase, [])

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = original(*args, **kwargs)
            calls.append((start, time.perf_counter()))
            return result

        setattr(owner, method, timed)

    def seconds_after_first(self, phase: str) -> float:
        """Total seconds of `phase` over every call but the first (the warm-up update)."""
        return float(sum(end - start for start, end in self.calls.get(phase, [])[1:]))

    def first_end(self, phase: str) -> float:
        """When the first call of `phase` returned (perf_counter time)."""
        return self.calls[phase][0][1]


def ppo_result(config: str, nupdates: int, nbatch: int, start: float, end: float, steady_start: float,
               phases: PhaseTimer, **extra: Any) -> dict[str, Any]:
    """The PPO measurement both sides report: steady-state steps/s (after the first update) and the time split."""
    steady_seconds = end - steady_start
    rollout_s = phases.seconds_after_first("rollout")
    train_s = phases.seconds_after_first("train")
    minibatches = (nupdates - 1) * PPO_SETTINGS["noptepochs"] * PPO_SETTINGS["nminibatches"]
    return {
        "config": config, "value": (nupdates - 1) * nbatch / steady_seconds, "unit": "steps/s",
        "updates": nupdates, "wall_s": end - start, "sps_end_to_end": nupdates * nbatch / (end - start),
        "steady_s": steady_seconds, "steady_rollout_s": rollout_s, "steady_train_s": train_s,
        "steady_other_s": steady_seconds - rollout_s - train_s, "train_ms_per_minibatch": 1e3 * train_s / minibatches,
        **extra,
    }


def dqn_clock_start(timesteps: int, measure_after: int) -> int:
    """The step from which DQN speed is clocked (learning_starts + measure_after); exits if the run is too short."""
    clock_from = int(DQN_SETTINGS["learning_starts"]) + measure_after
    if timesteps <= clock_from:
        raise SystemExit(f"--timesteps must exceed learning_starts + measure_after = {clock_from}, got {timesteps}")
    return clock_from


def random_actions(steps: int, num_env: int, seed: int = 0) -> np.ndarray:
    """[steps, num_env] random Breakout actions, the same sequence on both sides."""
    return np.random.default_rng(seed).integers(N_ACTIONS, size=(steps, num_env))


def synthetic_minibatch(size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A PPO minibatch of random data: NHWC uint8 frames plus actions, returns, values and old neglogps."""
    rng = np.random.default_rng(seed)
    return {
        "obs": rng.integers(0, 256, size=(size, *OBS_SHAPE_NHWC), dtype=np.uint8),
        "actions": rng.integers(N_ACTIONS, size=size).astype(np.int64),
        "returns": rng.standard_normal(size).astype(np.float32),
        "values": rng.standard_normal(size).astype(np.float32),
        "neglogpacs": np.full(size, np.log(N_ACTIONS), np.float32),
    }


def to_nchw(obs: np.ndarray) -> np.ndarray:
    """NHWC frames as the contiguous NCHW array SB3's CNN policies take."""
    return np.ascontiguousarray(obs.transpose(0, 3, 1, 2))
