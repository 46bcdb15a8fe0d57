"""baselines' ppo1/run_mujoco.py: PPO1 with a 2 x 64 MlpPolicy on one MuJoCo env, baselines' settings.

    python -m baselines_tf2.ppo1.run_mujoco --env=Hopper-v5 --num-timesteps=1000000 --seed=0

Logs go where `logger.configure()` puts them (OPENAI_LOGDIR, or a fresh folder), the model to `<log dir>/model`.
"""

from __future__ import annotations

from typing import Any

from baselines_tf2 import logger
from baselines_tf2.common.cmd_util import mujoco_arg_parser
from baselines_tf2.ppo1 import mlp_policy, pposgd_simple


def train(env_id: str, num_timesteps: int, seed: int | None) -> pposgd_simple.PPO1Model:
    """Train and return the model (saved as <log dir>/model when a log dir is configured)."""

    def policy_fn(name: str, ob_space: Any, ac_space: Any) -> Any:  # baselines' policy_fn shape
        return mlp_policy.MlpPolicy(name=name, ob_space=ob_space, ac_space=ac_space, hid_size=64, num_hid_layers=2)

    return pposgd_simple.train_script_run(env_id, "mujoco", seed, policy_fn, max_timesteps=num_timesteps,
                                          timesteps_per_actorbatch=2048, clip_param=0.2, entcoeff=0.0,
                                          optim_epochs=10, optim_stepsize=3e-4, optim_batchsize=64, gamma=0.99,
                                          lam=0.95, schedule="linear")


def main() -> None:
    """Parse baselines' MuJoCo flags, configure the logger, train."""
    parser = mujoco_arg_parser()
    args = parser.parse_args()
    pposgd_simple.check_script_arguments(parser, args)
    logger.configure()
    train(args.env, num_timesteps=args.num_timesteps, seed=args.seed)


if __name__ == "__main__":
    main()
