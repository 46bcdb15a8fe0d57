"""baselines' `her.her_sampler`: hindsight relabelling over baselines' episode-batch dicts. No TensorFlow here.

An episode batch is baselines' replay layout: {'o': [B, T+1, do], 'ag': [B, T+1, dg], 'g': [B, T, dg],
'u': [B, T, du], 'info_<key>': [B, T, ...]}, plus 'o_2' / 'ag_2' (= o[:, 1:], ag[:, 1:]) as baselines' buffer adds
them before sampling (added here when missing). `baselines_tf2.her.her.learn` does not use this module: its
`HerReplayBuffer` keeps VecEnv steps in a per-env ring and relabels there. The two layouts index episodes
differently (a row of B episodes here, absolute ring steps there) and `HerReplayBuffer.hindsight_goals` is a method
of its ring, so the goal choice is written again below, for this layout, with the same meaning.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from baselines_tf2.common.validation import require_int
from baselines_tf2.her.replay_buffer import STRATEGIES

RewardFun = Callable[..., Any]  # reward_fun(ag_2=[N, dg], g=[N, dg], info={key: [N, ...]}) -> [N] rewards
Sampler = Callable[[Mapping[str, np.ndarray], int], dict[str, np.ndarray]]
INFO_PREFIX = "info_"


def make_sample_her_transitions(replay_strategy: str, replay_k: int, reward_fun: RewardFun, *,
                                rng: np.random.Generator | None = None) -> Sampler:
    """baselines' sampler factory: `_sample_her_transitions(episode_batch, batch_size_in_transitions)` draws that
    many transitions uniformly (episode, then step), relabels a fraction 1 - 1/(1 + replay_k) of their goals and
    sets 'r' to `reward_fun(ag_2=, g=, info=)` of the batch's goals.

    `replay_strategy` 'future' (baselines' HER) takes the goal achieved at a uniform step future_t in
    [t + 1, T] of the same episode (future_t = t + 1 + floor(U * (T - t)), U ~ [0, 1), as baselines); 'final'
    the episode's last achieved goal ag[T]; 'episode' that of any step ag[1..T]; 'none' never relabels (baselines
    treated any other string as 'none'; here it is refused). `rng` defaults to NumPy's global generator, the one
    baselines drew from (and `set_global_seeds` seeds).
    """
    if replay_strategy not in STRATEGIES:
        raise ValueError(f"unknown replay_strategy {replay_strategy!r}; valid: {', '.join(STRATEGIES)}")
    replay_k = require_int("replay_k", replay_k, minimum=0)
    future_p = 0.0 if replay_strategy == "none" else 1.0 - 1.0 / (1.0 + replay_k)  # replay_k = 4: 80 %
    random: Any = np.random if rng is None else rng  # both have .random(size)

    def _sample_her_transitions(episode_batch: Mapping[str, np.ndarray],
                                batch_size_in_transitions: int) -> dict[str, np.ndarray]:
        """`batch_size_in_transitions` transitions {key: [N, ...]} with hindsight goals 'g' and their rewards 'r'."""
        batch_size = require_int("batch_size_in_transitions", batch_size_in_transitions, minimum=1)
        episodes = with_next_steps(episode_batch)
        n_episodes, horizon = episodes["u"].shape[:2]

        def uniform_below(limit: Any) -> np.ndarray:
            """Integers in [0, limit) (elementwise), from `random`."""
            return (random.random(batch_size) * limit).astype(np.int64)

        episode_idxs = uniform_below(n_episodes)
        t_samples = uniform_below(horizon)
        transitions = {key: value[episode_idxs, t_samples] for key, value in episodes.items()}  # copies

        her = np.flatnonzero(random.random(batch_size) < future_p)
        if replay_strategy == "future":
            # future_offset in [0, T - t): the goal is one achieved after this step, up to the episode's end
            source_t = t_samples + 1 + uniform_below(horizon - t_samples)
        elif replay_strategy == "final":
            source_t = np.full(batch_size, horizon)
        else:  # 'episode' ('none' relabels nothing: `her` is empty)
            source_t = 1 + uniform_below(horizon)
        transitions["g"][her] = episodes["ag"][episode_idxs[her], source_t[her]]

        info = {key[len(INFO_PREFIX):]: value for key, value in transitions.items() if key.startswith(INFO_PREFIX)}
        transitions["r"] = np.asarray(reward_fun(ag_2=transitions["ag_2"], g=transitions["g"], info=info))
        return {key: value.reshape(batch_size, *value.shape[1:]) for key, value in transitions.items()}

    return _sample_her_transitions


def with_next_steps(episode_batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The batch with 'o_2' and 'ag_2' (the next step's observation and achieved goal) added where missing;
    ValueError if its arrays do not have baselines' [B, T(+1), ...] shapes."""
    missing = sorted({"o", "ag", "g", "u"} - set(episode_batch))
    if missing:
        raise ValueError(f"an episode batch needs 'o', 'ag', 'g' and 'u' (baselines' keys); missing: {missing}")
    episodes = {key: np.asarray(value) for key, value in episode_batch.items()}
    n_episodes, horizon = episodes["u"].shape[:2]
    if horizon < 1:
        raise ValueError("the episode batch has episodes of 0 steps")
    for key, steps in (("o", horizon + 1), ("ag", horizon + 1), ("g", horizon)):
        if episodes[key].shape[:2] != (n_episodes, steps):
            raise ValueError(f"episode batch '{key}' has shape {episodes[key].shape}; with 'u' of shape "
                             f"{episodes['u'].shape} it must start ({n_episodes}, {steps})")
    episodes.setdefault("o_2", episodes["o"][:, 1:])
    episodes.setdefault("ag_2", episodes["ag"][:, 1:])
    return episodes
