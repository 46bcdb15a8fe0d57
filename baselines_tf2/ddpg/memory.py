"""baselines' path of DDPG's replay memory (the one the continuous-control learners share)."""

from baselines_tf2.off_policy.replay import Memory

__all__ = ["Memory"]
