"""DQN on Flappy Bird from pixels, with the network and rewards of the Stanford CS231n Flappy Bird report.

The agent sees 4 stacked 64x64 binarized frames (bird, pipes and ground white on black) and picks one of 2
actions (idle, flap). Reward: +1 for a pipe passed, -1 on death, +0.1 for every other frame alive. The network,
registered with baselines_tf2.nn.models.register as `flappy_cs231n` (so checkpoints name it), is two
3x3 convs of 32 filters, each with batch norm, ReLU and 2x2 max-pooling, then a 512-unit dense layer with batch
norm and ReLU, then a linear layer giving the 2 Q-values (deepq head with `hiddens=[]`, `dueling=False`).
Needs `pip install flappy-bird-gymnasium`.

    python examples/flappy_bird_dqn.py                      # 100k steps: ~1 h on 2 cores
    python examples/flappy_bird_dqn.py --smoke

Writes <out>/flappy_bird_dqn.png (episode return, smoothed), the Monitor file (with each game's `score`, the
pipes passed), checkpoints and the model <out>/model (as baselines' deepq returns it: the weights with the best
100-game mean at a checkpoint, every 10k steps). To load that model elsewhere, import this module
first, so the network name resolves: `import flappy_bird_dqn; deepq.act.load_act("<out>/model")`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium
import keras
import numpy as np
from _common import example_parser, require, save_curves

from baselines_tf2.common.atari_wrappers import FrameStack, WarpFrame
from baselines_tf2.nn.models import NetworkFn, register

NETWORK = "flappy_cs231n"
FRAME_SIZE = 64
FRAMES = 4
MAX_EPISODE_STEPS = 10_000  # a bird that has learned to fly would otherwise play one endless game
BINARY_TOLERANCE = 2  # gray levels: further than this from the sky's gray is an object (the pipes' light green: 8)
DQN_KWARGS: dict[str, Any] = dict(  # Adam, replay, a synced target network, epsilon annealed from 1 to 0.01
    lr=1e-4, buffer_size=50_000, batch_size=32, gamma=0.99, train_freq=4, learning_starts=5_000,
    target_network_update_freq=1_000, exploration_fraction=0.1, exploration_final_eps=0.01, print_freq=20,
    checkpoint_freq=10_000, keep_checkpoints=1, hiddens=[], dueling=False,  # checkpoints are ~65 MB each
)
SMOKE_KWARGS: dict[str, Any] = dict(learning_starts=200, buffer_size=1_000, batch_size=8, checkpoint_freq=500)
STEPS, SMOKE_STEPS = 100_000, 600
SMOOTH_RADIUS = 50  # games each side


@register(NETWORK)
def flappy_cs231n() -> NetworkFn:
    """The CS231n report's Q-network torso: 2 x (conv 32 3x3, batch norm, ReLU, max-pool 2x2), dense 512 + BN + ReLU.

    Batch norm runs in inference mode under deepq.learn (its Q-network calls the torso without `training`), so
    each BN layer is a learned per-channel scale and shift over fixed statistics (mean 0, variance 1): the same
    function when acting, training and computing targets. See examples/README.md.
    """

    def network_fn(obs_shape: tuple[int, ...], obs_dtype: str) -> keras.Model:
        frames = keras.Input(shape=obs_shape, dtype=obs_dtype, name="frames")
        x = keras.layers.Rescaling(1.0 / 255.0)(frames)  # uint8 0/255 -> float 0/1 inside the graph
        for index in (1, 2):
            x = keras.layers.Conv2D(32, 3, padding="same", use_bias=False, name=f"conv{index}")(x)
            x = keras.layers.BatchNormalization(name=f"conv{index}_bn")(x)
            x = keras.layers.ReLU()(x)
            x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(512, use_bias=False, name="fc")(x)
        x = keras.layers.BatchNormalization(name="fc_bn")(x)
        return keras.Model(frames, keras.layers.ReLU()(x), name=NETWORK)

    return network_fn


class CS231nReward(gymnasium.Wrapper):
    """+1 for a pipe passed, -1 on death, +0.1 for any other frame (the package adds -0.5 for touching the top)."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.score = 0  # pipes passed so far in this game (the env's info["score"])

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.score = info["score"]
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, _reward, terminated, truncated, info = self.env.step(action)
        passed = info["score"] > self.score
        self.score = info["score"]
        reward = -1.0 if terminated else 1.0 if passed else 0.1
        return obs, reward, terminated, truncated, info


class Binarize(gymnasium.ObservationWrapper):
    """Grayscale frame -> 0 where it shows the plain background, 255 where it shows anything else."""

    def __init__(self, env: gymnasium.Env, background: int) -> None:
        super().__init__(env)
        self.background = background

    def observation(self, observation: np.ndarray) -> np.ndarray:
        differs = np.abs(observation.astype(np.int16) - self.background) > BINARY_TOLERANCE
        return np.where(differs, 255, 0).astype(np.uint8)


def make_flappy_env(monitor_file: Path) -> gymnasium.Env:
    """FlappyBird-v0 rendered to pixels, CS231n rewards, monitored, then gray 64x64, binarized, 4 frames stacked."""
    require("flappy_bird_gymnasium", "flappy-bird-gymnasium")
    from flappy_bird_gymnasium.envs.constants import FILL_BACKGROUND_COLOR

    from baselines_tf2.bench import Monitor

    # background=None: a plain gray sky instead of the city image, so binarizing leaves only what matters
    env = gymnasium.make("FlappyBird-v0", render_mode="rgb_array", use_lidar=False, background=None,
                         max_episode_steps=MAX_EPISODE_STEPS)
    # allow_early_resets: AddRenderObservation resets the env once to learn the frame shape
    env = Monitor(CS231nReward(env), str(monitor_file), allow_early_resets=True, info_keywords=("score",))
    env = gymnasium.wrappers.AddRenderObservation(env, render_only=True)
    env = WarpFrame(env, width=FRAME_SIZE, height=FRAME_SIZE, grayscale=True)
    env = Binarize(env, background=round(np.mean(FILL_BACKGROUND_COLOR)))
    return FrameStack(env, FRAMES)


def main() -> None:
    args = example_parser(__doc__, "runs/examples/flappy_bird_dqn").parse_args()
    from baselines_tf2 import logger
    from baselines_tf2.deepq import deepq

    run_dir = args.out / "dqn-seed0"
    with logger.scoped_configure(str(run_dir), ["stdout", "csv"]):
        env = make_flappy_env(run_dir / "0.0")
        kwargs = {**DQN_KWARGS, **(SMOKE_KWARGS if args.smoke else {})}
        act = deepq.learn(env, NETWORK, seed=0, total_timesteps=SMOKE_STEPS if args.smoke else STEPS, **kwargs)
        act.save(str(args.out / "model"))
        env.close()
    results = save_curves([run_dir], args.out / "flappy_bird_dqn.png", smooth_radius=SMOOTH_RADIUS,
                          split_fn=lambda _result: "Flappy Bird, DQN (CS231n network)")
    scores = results[0].monitor["score"].to_numpy()
    print(f"{len(scores)} games; pipes passed: mean {scores.mean():.2f} over all, "
          f"{scores[-100:].mean():.2f} over the last 100, best {scores.max()}")


if __name__ == "__main__":
    main()
