"""RunningMeanStd: batch-merged moments equal NumPy's over all samples; its state round-trips as plain data."""

from __future__ import annotations

import numpy as np
import pytest

from baselines_tf2.common.running_mean_std import RunningMeanStd


def test_batches_of_different_sizes_give_numpy_mean_and_var_of_their_concatenation() -> None:
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=3.0, scale=2.0, size=(size, 3, 2)) for size in (1, 7, 1, 1, 50, 2, 1)]
    stats = RunningMeanStd(epsilon=0.0, shape=(3, 2))
    for batch in batches:
        stats.update(batch)
    everything = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, everything.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.var, everything.var(axis=0), rtol=1e-12)
    assert stats.count == 63


def test_epsilon_is_a_prior_of_mean_zero_and_variance_one_with_that_weight() -> None:
    stats = RunningMeanStd(epsilon=1.0)
    stats.update(np.array([2.0, 4.0]))
    # Samples {prior 0 with variance 1 and weight 1} + {2, 4}: mean = 6 / 3 = 2;
    # sum of squared deviations = 1 * 1 + (0 - 2)^2 * 1 + (2 - 2)^2 + (4 - 2)^2 = 9, so var = 9 / 3 = 3.
    assert stats.mean == pytest.approx(2.0)
    assert stats.var == pytest.approx(3.0)
    assert stats.count == 3.0


def test_default_epsilon_barely_moves_the_estimate() -> None:
    samples = np.arange(10.0)
    stats = RunningMeanStd()
    stats.update(samples)
    assert stats.mean == pytest.approx(samples.mean(), rel=1e-4)
    assert stats.var == pytest.approx(samples.var(), rel=1e-4)


def test_empty_batch_changes_nothing_and_wrong_shape_is_rejected() -> None:
    stats = RunningMeanStd(shape=(2,))
    stats.update(np.zeros((0, 2)))
    assert stats.count == pytest.approx(1e-4)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        stats.update(np.zeros((4, 3)))


def test_state_dict_round_trip_restores_identical_statistics() -> None:
    source = RunningMeanStd(shape=(2,))
    source.update(np.array([[1.0, -1.0], [3.0, 5.0], [0.5, 2.0]]))
    state = source.state_dict()
    assert isinstance(state["count"], float)
    assert all(isinstance(state[key], np.ndarray) for key in ("mean", "var"))
    target = RunningMeanStd(shape=(2,))
    target.load_state_dict(state)
    np.testing.assert_array_equal(target.mean, source.mean)
    np.testing.assert_array_equal(target.var, source.var)
    assert target.count == source.count
    state["mean"][0] = 99.0  # the state is a copy: editing it must not reach back into the statistics
    assert source.mean[0] != 99.0


@pytest.mark.parametrize(
    "state, message",
    [
        ({"mean": [0.0], "var": [1.0]}, "count"),
        ({"mean": [0.0, 0.0, 0.0], "var": [1.0, 1.0], "count": 1.0}, "shape"),
        ({"mean": [0.0, float("nan")], "var": [1.0, 1.0], "count": 1.0}, "NaN"),
        ({"mean": [0.0, 0.0], "var": [1.0, -1.0], "count": 1.0}, "negative"),
        ({"mean": [0.0, 0.0], "var": [1.0, 1.0], "count": -2.0}, "count"),
        ({"mean": ["a", "b"], "var": [1.0, 1.0], "count": 1.0}, "numeric"),
    ],
)
def test_load_state_dict_rejects_bad_state_and_keeps_the_old_one(state: dict, message: str) -> None:
    stats = RunningMeanStd(shape=(2,))
    stats.update(np.array([[1.0, 2.0]]))
    before = stats.state_dict()
    with pytest.raises(ValueError, match=message):
        stats.load_state_dict(state)
    np.testing.assert_array_equal(stats.mean, before["mean"])
    assert stats.count == before["count"]


def test_negative_epsilon_is_rejected() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        RunningMeanStd(epsilon=-1.0)


def test_update_from_moments_equals_update_with_the_samples() -> None:
    """baselines' public merge: a batch given by its moments counts as the batch itself."""
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(50, 3)), rng.normal(loc=2.0, size=(20, 3))
    by_samples, by_moments = RunningMeanStd(shape=(3,)), RunningMeanStd(shape=(3,))
    for batch in (first, second):
        by_samples.update(batch)
        by_moments.update_from_moments(batch.mean(axis=0), batch.var(axis=0), len(batch))
    np.testing.assert_allclose(by_moments.mean, by_samples.mean)
    np.testing.assert_allclose(by_moments.var, by_samples.var)
    assert by_moments.count == by_samples.count
    with pytest.raises(ValueError, match=r"shapes \(2,\) and \(3,\) do not fit statistics of shape \(3,\)"):
        by_moments.update_from_moments(np.zeros(2), np.ones(3), 5)
    with pytest.raises(ValueError, match="batch_count must be >= 0"):
        by_moments.update_from_moments(np.zeros(3), np.ones(3), -1)
