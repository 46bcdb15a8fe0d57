"""Sum and min segment trees against brute force over random operations, plus their edge cases and input checks."""

from __future__ import annotations

import numpy as np
import pytest

from baselines_tf2.common.segment_tree import MinSegmentTree, SegmentTree, SumSegmentTree


def brute_prefixsum_idx(leaves: np.ndarray, prefix: float) -> int:
    """Highest i with leaves[:i].sum() <= prefix, for prefix below the total (the definition, by cumulative sums)."""
    return int(np.searchsorted(np.cumsum(leaves), prefix, side="right"))


@pytest.mark.parametrize("capacity", [1, 2, 8, 64, 1024, 4096])
def test_random_operations_match_brute_force(capacity: int) -> None:
    rng = np.random.default_rng(capacity)
    sums, mins = SumSegmentTree(capacity), MinSegmentTree(capacity)
    sum_leaves, min_leaves = np.zeros(capacity), np.full(capacity, np.inf)
    for _ in range(300):
        operation = rng.integers(6)
        if operation == 0:  # scalar set; small integers keep every sum exact, so searches can be compared exactly
            i, value = int(rng.integers(capacity)), float(rng.integers(0, 5))
            sums[i], mins[i] = value, value
            sum_leaves[i], min_leaves[i] = value, value
        elif operation == 1:  # vectorized set with repeats: the last value for an index wins
            idx = rng.integers(capacity, size=int(rng.integers(1, 20)))
            values = rng.integers(0, 5, size=idx.size).astype(float)
            sums[idx], mins[idx] = values, values
            for i, value in zip(idx, values):
                sum_leaves[i], min_leaves[i] = value, value
        elif operation == 2:  # any range, non-power-of-two and empty ones included, exclusive end
            start = int(rng.integers(capacity + 1))
            end = int(rng.integers(start, capacity + 1))
            assert sums.sum(start, end) == sum_leaves[start:end].sum()
            assert mins.min(start, end) == min(min_leaves[start:end], default=np.inf)
        elif operation == 3:  # default and negative (slice-style) bounds
            end = -int(rng.integers(1, capacity + 1))
            assert sums.sum(0, end) == sum_leaves[:end].sum()
            assert mins.min(end) == min_leaves[end:].min()
            assert sums.sum() == sum_leaves.sum()
            assert mins.min() == min_leaves.min()
        elif operation == 4 and sum_leaves.sum() > 0:  # vectorized prefix-sum search, boundaries included
            cumulative = np.cumsum(sum_leaves)
            boundaries = rng.permutation(np.unique(cumulative[cumulative < cumulative[-1]]))[:20]
            prefixes = np.concatenate([rng.uniform(0, cumulative[-1], 16), boundaries, [0.0]])
            found = sums.find_prefixsum_idx(prefixes)
            assert found.shape == prefixes.shape
            assert found.tolist() == [brute_prefixsum_idx(sum_leaves, p) for p in prefixes]
            assert sums.find_prefixsum_idx(float(prefixes[0])) == found[0]
        else:  # reads
            idx = rng.integers(capacity, size=5)
            np.testing.assert_array_equal(sums[idx], sum_leaves[idx])
            assert mins[int(idx[0])] == min_leaves[idx[0]]


def test_float_sums_match_brute_force_within_rounding() -> None:
    rng = np.random.default_rng(0)
    tree = SumSegmentTree(256)
    leaves = rng.random(256)
    tree[np.arange(256)] = leaves
    for _ in range(100):
        start = int(rng.integers(256))
        end = int(rng.integers(start, 257))
        assert tree.sum(start, end) == pytest.approx(leaves[start:end].sum(), rel=1e-12, abs=1e-12)


def test_sum_end_is_exclusive_and_empty_ranges_give_the_neutral_element() -> None:
    sums, mins = SumSegmentTree(8), MinSegmentTree(8)
    sums[np.arange(4)] = [1.0, 2.0, 4.0, 8.0]
    mins[np.arange(4)] = [5.0, 3.0, 7.0, 1.0]
    assert sums.sum(0, 3) == 7.0  # leaves 0, 1, 2; not leaf 3
    assert sums.sum(1, 4) == 14.0
    assert sums.sum(0, -5) == 7.0  # -5 counts from the end of the 8 leaves: [0, 3)
    assert mins.min(0, 3) == 3.0
    assert sums.sum(3, 3) == 0.0
    assert mins.min(3, 3) == np.inf
    assert mins.min(4) == np.inf  # never-set leaves are the neutral element


def test_prefixsum_search_never_returns_an_empty_leaf() -> None:
    rng = np.random.default_rng(1)
    tree = SumSegmentTree(1024)
    leaves = np.where(rng.random(1024) < 0.5, rng.random(1024) * 10.0 ** rng.integers(-8, 3, 1024), 0.0)
    leaves[700:] = 0.0  # an empty tail, like a partly filled buffer
    tree[np.arange(1024)] = leaves
    total = tree.sum()
    prefixes = np.concatenate([rng.uniform(0, total, 2000), [total, np.nextafter(total, 0.0), 0.0]])
    found = tree.find_prefixsum_idx(prefixes)
    assert np.all(leaves[found] > 0.0)
    assert found[-3] == np.flatnonzero(leaves)[-1]  # the total itself maps to the last positive leaf
    cumulative_before = np.concatenate([[0.0], np.cumsum(leaves)])[found]
    assert np.all(cumulative_before <= prefixes * (1 + 1e-12))
    assert np.all(prefixes < (cumulative_before + leaves[found]) * (1 + 1e-12) + 1e-300)


def test_rounding_past_a_subtree_still_lands_on_a_positive_leaf() -> None:
    tree = SumSegmentTree(4)
    tree[np.arange(3)] = [0.637, 0.27, 0.041]
    # total = 0.9480000000000001, and total - 0.907 exceeds 0.041 by one rounding step, so a plain walk
    # spending the left sums would step right from leaf 2 into the empty leaf 3.
    assert tree.find_prefixsum_idx(tree.sum()) == 2
    np.testing.assert_array_equal(tree.find_prefixsum_idx(np.array([tree.sum(), 0.9, 0.0])), [2, 1, 0])


def test_vectorized_search_and_reads_keep_the_query_shape() -> None:
    tree = SumSegmentTree(4)
    tree[np.arange(4)] = 1.0  # broadcast one value to many leaves
    found = tree.find_prefixsum_idx(np.array([[0.5, 1.5], [2.5, 3.5]]))
    np.testing.assert_array_equal(found, [[0, 1], [2, 3]])
    assert isinstance(tree.find_prefixsum_idx(3.99), int)
    assert isinstance(tree[2], float)


@pytest.mark.parametrize("capacity", [0, 3, 12, -4, 2.0, True])
def test_capacity_must_be_a_power_of_two(capacity: object) -> None:
    with pytest.raises(ValueError, match="power of two"):
        SumSegmentTree(capacity)  # type: ignore[arg-type]


def test_bad_indices_values_and_prefixes_are_rejected() -> None:
    sums, mins = SumSegmentTree(4), MinSegmentTree(4)
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        sums[4] = 1.0
    with pytest.raises(IndexError):
        sums[np.array([0, -1])] = 1.0
    with pytest.raises(TypeError, match="integers"):
        sums[1.5] = 1.0  # type: ignore[index]
    with pytest.raises(ValueError, match="non-negative"):
        sums[0] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        sums[np.array([0, 1])] = [1.0, np.inf]
    with pytest.raises(ValueError, match="NaN"):
        mins[0] = np.nan
    with pytest.raises(IndexError):
        sums.sum(3, 2)
    with pytest.raises(ValueError, match="positive total"):
        sums.find_prefixsum_idx(0.0)
    sums[0] = 2.0
    with pytest.raises(ValueError, match=r"\[0, 2.0\]"):
        sums.find_prefixsum_idx(2.5)
    with pytest.raises(ValueError, match=r"\[0, 2.0\]"):
        sums.find_prefixsum_idx(np.array([1.0, -0.1]))


def test_generic_tree_reduces_with_any_ufunc() -> None:
    tree = SegmentTree(8, np.maximum, -np.inf)
    tree[np.array([1, 5, 6])] = [3.0, 9.0, 4.0]
    assert tree.reduce() == 9.0
    assert tree.reduce(0, 5) == 3.0
    assert tree.reduce(6) == 4.0
