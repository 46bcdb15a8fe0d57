"""Shared building blocks. Importing this package stays cheap and TensorFlow-free.

It registers ale-py's Atari ids with gymnasium (about 40 ms), so that `gymnasium.make("PongNoFrameskip-v4")`
resolves as `gym.make` did for baselines code, in the parent and in every VecEnv worker (which imports this
package to run its loop), instead of raising NameNotFound.
"""

import ale_py
import gymnasium

gymnasium.register_envs(ale_py)
