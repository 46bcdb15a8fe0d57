"""Shared building blocks. Importing this package stays cheap and TensorFlow-free.

It registers ale-py's Atari ids with gymnasium (about 40 ms), so that `gymnasium.make("PongNoFrameskip-v4")`
resolves as `gym.make` did for baselines code, in the parent and in every VecEnv worker (which imports this
package to run its loop), instead of raising NameNotFound.

As baselines' `common/__init__.py`, it re-exports `Dataset` and the helpers of `console_util`, `math_util` and
`misc_util` (by name, not with `*`).
"""

import ale_py
import gymnasium

from baselines_tf2.common.console_util import (
    MESSAGE_DEPTH,
    ccap,
    color2num,
    colorize,
    fmt_item,
    fmt_row,
    get_git_commit,
    get_git_commit_message,
    print_cmd,
    timed,
)
from baselines_tf2.common.dataset import Dataset
from baselines_tf2.common.math_util import (
    discount,
    discount_with_boundaries,
    explained_variance,
    explained_variance_2d,
    flatten_arrays,
    ncc,
    unflatten_vector,
)
from baselines_tf2.common.misc_util import (
    EzPickle,
    RunningAvg,
    boolean_flag,
    get_wrapper_by_name,
    pretty_eta,
    set_global_seeds,
    unpack,
    zipsame,
)

__all__ = [
    "Dataset", "discount", "discount_with_boundaries", "explained_variance", "explained_variance_2d",
    "flatten_arrays", "ncc", "unflatten_vector", "EzPickle", "RunningAvg", "boolean_flag", "get_wrapper_by_name",
    "pretty_eta", "set_global_seeds", "unpack", "zipsame", "MESSAGE_DEPTH", "ccap", "color2num", "colorize",
    "fmt_item", "fmt_row", "get_git_commit", "get_git_commit_message", "print_cmd", "timed",
]

gymnasium.register_envs(ale_py)
