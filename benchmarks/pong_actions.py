"""How random a Pong policy is over the moves it can make, given that Pong's six actions are three moves twice.

    python benchmarks/pong_actions.py                   the emulator check: does FIRE change the game?
    python benchmarks/pong_actions.py CHECKPOINT        also the policy's entropy, over 6 actions and over 3 moves

The emulator check restores each of 200 states of random play, acts one agent step (4 frames) with each action of
a pair (NOOP/FIRE, RIGHT/RIGHTFIRE, LEFT/LEFTFIRE), then plays 200 frames of NOOP, and counts the states where the
two end states differ (RAM or screen). The policy check plays one env with the checkpoint's sampled actions and
splits the steps by where the ball goes (RAM byte 49 is its x; the agent's paddle is on the right, so a growing x
comes toward it).
"""

from __future__ import annotations

import argparse
from typing import Any

import ale_py
import gymnasium
import numpy as np

PAIRS = ((0, 1), (2, 4), (3, 5))  # NOOP/FIRE, RIGHT/RIGHTFIRE, LEFT/LEFTFIRE in Pong's minimal action set
BALL_X = 49  # RAM byte of the ball's x position


def fire_changes_the_game(states: int = 200, frames_after: int = 200, seed: int = 1) -> dict[str, int]:
    """For each action pair, in how many of `states` random-play states its two actions lead to different games."""
    gymnasium.register_envs(ale_py)
    env = gymnasium.make("PongNoFrameskip-v4")
    env.reset(seed=seed)
    ale, action_set = env.unwrapped.ale, env.unwrapped._action_set
    meanings = env.unwrapped.get_action_meanings()
    rng = np.random.default_rng(seed)
    differing = {f"{meanings[a]}/{meanings[b]}": 0 for a, b in PAIRS}
    for step in range(states * 30):
        env.step(int(rng.integers(len(meanings))))
        if step % 30:
            continue
        start = ale.cloneState()
        for (a, b), name in zip(PAIRS, differing):
            ends = []
            for action in (a, b):
                ale.restoreState(start)
                for _ in range(4):
                    ale.act(action_set[action])
                for _ in range(frames_after):
                    ale.act(action_set[0])
                ends.append((ale.getRAM().copy(), ale.getScreen().copy()))
            differing[name] += int(any(not np.array_equal(x, y) for x, y in zip(*ends)))
        ale.restoreState(start)
    env.close()
    return differing


def policy_entropy(checkpoint: str, steps: int = 3000, seed: int = 3) -> dict[str, Any]:
    """The checkpoint's mean entropy over 6 actions and over 3 moves, and its top move's probability by ball phase."""
    import tensorflow as tf

    from baselines_tf2.tools.play import checkpoint_with_env

    rows, scores = [], []
    rng = np.random.default_rng(seed)
    with checkpoint_with_env(checkpoint, seed=seed) as (policy, _metadata, env):
        ale = env.unwrapped.envs[0].unwrapped.ale  # one in-process env
        obs, previous_x = env.reset(), None
        for _ in range(steps):
            logits, _value = policy.net(policy.encode(tf.constant(obs)))
            probs = tf.nn.softmax(tf.cast(logits, tf.float32)).numpy()[0].astype(np.float64)
            moves = np.array([probs[a] + probs[b] for a, b in PAIRS])
            ball_x = int(ale.getRAM()[BALL_X])
            phase = ("between points" if previous_x in (None, ball_x) or ball_x == 0
                     else "ball coming" if ball_x > previous_x else "ball going")
            rows.append((phase, entropy(probs), entropy(moves), moves.max()))
            previous_x = ball_x
            obs, _rewards, _dones, infos = env.step(np.array([rng.choice(len(probs), p=probs / probs.sum())]))
            scores += [info["episode"]["r"] for info in infos if "episode" in info]
    report: dict[str, Any] = {
        "games": scores,
        "entropy over 6 actions": np.mean([row[1] for row in rows]),
        "entropy over 3 moves": np.mean([row[2] for row in rows]),
    }
    for phase in ("ball coming", "ball going", "between points"):
        top = [row[3] for row in rows if row[0] == phase]
        report[f"top move's probability, {phase} ({len(top)} steps)"] = np.mean(top) if top else float("nan")
    return report


def entropy(probs: np.ndarray) -> float:
    """Shannon entropy in nats."""
    return float(-(probs * np.log(np.maximum(probs, 1e-12))).sum())


def main() -> None:
    """Print the emulator check, and the policy check for a checkpoint if one is given."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", help="a ppo2/a2c checkpoint trained on PongNoFrameskip-v4")
    parser.add_argument("--steps", type=int, default=3000, help="agent steps the policy plays")
    args = parser.parse_args()
    for pair, count in fire_changes_the_game().items():
        print(f"{pair}: the game differs after 200 frames in {count} of 200 states")
    if args.checkpoint:
        for name, value in policy_entropy(args.checkpoint, args.steps).items():
            print(f"{name}: {value if isinstance(value, list) else round(float(value), 3)}")
        print(f"(uniform: ln 6 = {np.log(6):.3f}, ln 3 = {np.log(3):.3f})")


if __name__ == "__main__":
    main()
