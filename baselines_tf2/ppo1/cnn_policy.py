"""baselines' ppo1 CnnPolicy: a conv torso shared by the policy logits and the value ('large': the Nature CNN,
'small': the A3C paper's), on Atari frames scaled to [0, 1]."""

from __future__ import annotations

from typing import Any

import gymnasium

from baselines_tf2.ppo1.mlp_policy import BasePolicy, initialize_as_ppo1

NETWORK_OF_KIND = {"large": "cnn", "small": "cnn_a3c"}


class CnnPolicy(BasePolicy):
    """`CnnPolicy(name, ob_space, ac_space, kind='large')`, as a ppo1 `policy_fn` returns it."""

    def __init__(self, name: str, ob_space: gymnasium.Space, ac_space: gymnasium.Space, kind: str = "large",
                 **_tf1_options: Any) -> None:
        if kind not in NETWORK_OF_KIND:
            raise ValueError(f"kind must be one of {sorted(NETWORK_OF_KIND)}, got {kind!r}")
        self.name = name
        super().__init__(ob_space, ac_space, NETWORK_OF_KIND[kind], {}, value_network="shared")
        initialize_as_ppo1(self)
