"""baselines_tf2.a2c.utils, baselines' `baselines.a2c.utils`: numbers worked out by hand from baselines' formulas."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

from baselines_tf2.a2c import utils
from baselines_tf2.common import math_util

# ---- schedules -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "progress", "expected"), [
    ("constant", 0.0, 1.0),
    ("constant", 0.9, 1.0),
    ("linear", 0.0, 1.0),
    ("linear", 0.25, 0.75),
    ("middle_drop", 0.2, 0.8),  # 1 - p = 0.8 is not below 0.75
    ("middle_drop", 0.5, 0.075),  # 1 - p = 0.5 < 0.75: 0.75 * 0.1
    ("double_linear_con", 0.25, 0.5),  # 1 - 2 * 0.25
    ("double_linear_con", 0.45, 0.125),  # 1 - 0.9 = 0.1 < 0.125: held at 0.125
    ("double_middle_drop", 0.1, 0.9),
    ("double_middle_drop", 0.5, 0.075),  # 0.25 <= 1 - p < 0.75: 0.75 * 0.1
    ("double_middle_drop", 0.9, 0.125),  # 1 - p = 0.1 < 0.25: 0.25 * 0.5
])
def test_named_schedules_match_baselines_formulas(name: str, progress: float, expected: float) -> None:
    assert utils.schedules[name](progress) == pytest.approx(expected)
    assert getattr(utils, name) is utils.schedules[name]


def test_schedules_holds_baselines_five_names() -> None:
    assert set(utils.schedules) == {"linear", "constant", "double_linear_con", "middle_drop", "double_middle_drop"}


def test_scheduler_steps_through_the_schedule() -> None:
    scheduler = utils.Scheduler(v=0.01, nvalues=4, schedule="linear")
    # value() returns v * (1 - n / 4) at n = 0, 1, 2, 3, advancing n after each call
    assert [scheduler.value() for _ in range(4)] == pytest.approx([0.01, 0.0075, 0.005, 0.0025])
    assert scheduler.value_steps(2) == pytest.approx(0.005)
    assert scheduler.value() == pytest.approx(0.0)  # value_steps did not advance: n is 4 here
    assert utils.Scheduler(7e-4, 100, "constant").value_steps(99) == pytest.approx(7e-4)


def test_scheduler_names_the_valid_schedules_for_an_unknown_one() -> None:
    with pytest.raises(ValueError, match="middle_drop"):
        utils.Scheduler(1.0, 10, "cosine")


# ---- returns and episode statistics --------------------------------------------------------------------------


def test_discount_with_dones_is_math_util_and_cuts_after_a_done() -> None:
    assert utils.discount_with_dones is math_util.discount_with_dones
    # backwards, gamma 0.5: t=2: 1; t=1 is done, so nothing after it counts: 1; t=0: 1 + 0.5 * 1 = 1.5
    returns = utils.discount_with_dones([1, 1, 1], [0, 1, 0], 0.5)
    np.testing.assert_allclose(returns, [1.5, 1.0, 1.0])


def test_episode_stats_reads_env_major_batches() -> None:
    stats = utils.EpisodeStats(nsteps=3, nenvs=2)
    assert stats.mean_length() == 0 and stats.mean_reward() == 0
    # rows are env-major: env 0 gets 1, 2, 3 and ends an episode after step 1; env 1 gets 10, 20, 30, ends at step 2
    stats.feed(np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0]), np.array([0, 1, 0, 0, 0, 1]))
    # finished: (length 2, reward 3) and (length 3, reward 60)
    assert stats.mean_length() == pytest.approx(2.5)
    assert stats.mean_reward() == pytest.approx(31.5)
    # env 0's episode 3, 4 ends at the next batch's first step: (length 2, reward 7)
    stats.feed(np.array([4.0, 0.0, 0.0, 0.0, 0.0, 0.0]), np.array([1, 0, 0, 0, 0, 0]))
    assert stats.mean_length() == pytest.approx(7 / 3)
    assert stats.mean_reward() == pytest.approx(70 / 3)


def test_episode_stats_keeps_the_last_40_episodes() -> None:
    stats = utils.EpisodeStats(nsteps=1, nenvs=1)
    for reward in range(45):
        stats.feed(np.array([float(reward)]), np.array([1]))
    assert stats.mean_reward() == pytest.approx(np.mean(np.arange(5, 45)))  # 24.5
    assert stats.mean_length() == 1


def test_make_path_creates_parents_and_accepts_an_existing_directory(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    utils.make_path(str(target))
    utils.make_path(str(target))
    assert target.is_dir()


# ---- ortho_init ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (4, 4), (3, 3, 4, 8)])
def test_ortho_init_gives_a_scaled_orthogonal_matrix(shape: tuple[int, ...]) -> None:
    np.random.seed(0)
    weights = utils.ortho_init(2.0)(shape, np.float32)
    assert weights.shape == shape and weights.dtype == np.float32
    matrix = weights.reshape(-1, shape[-1])  # a conv kernel is orthogonal as (h * w * in, out)
    rows, cols = matrix.shape
    gram = matrix.T @ matrix if rows >= cols else matrix @ matrix.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-5)


def test_ortho_init_draws_from_numpy_global_generator() -> None:
    np.random.seed(3)
    first = utils.ortho_init()((5, 5))
    np.random.seed(3)
    np.testing.assert_array_equal(first, utils.ortho_init()((5, 5)))
    assert not np.allclose(first, utils.ortho_init()((5, 5)))


def test_ortho_init_works_as_a_keras_initializer() -> None:
    dense = keras.layers.Dense(4, kernel_initializer=utils.ortho_init(1.0))
    dense.build((None, 8))
    kernel = dense.kernel.numpy()
    np.testing.assert_allclose(kernel.T @ kernel, np.eye(4), atol=1e-5)
    conv = keras.layers.Conv2D(8, 3, kernel_initializer=utils.ortho_init(0.5), dtype="float64")
    conv.build((None, 5, 5, 2))
    assert conv.kernel.dtype == "float64"
    flat = conv.kernel.numpy().reshape(-1, 8)
    np.testing.assert_allclose(flat.T @ flat, 0.25 * np.eye(8), atol=1e-10)


def test_ortho_init_survives_keras_serialization() -> None:
    dense = keras.layers.Dense(4, kernel_initializer=utils.ortho_init(0.01))
    rebuilt = keras.layers.Dense.from_config(dense.get_config())
    assert rebuilt.kernel_initializer.get_config() == {"scale": 0.01}


# ---- tensor helpers ------------------------------------------------------------------------------------------


def test_batch_to_seq_splits_env_major_rows_into_steps_and_seq_to_batch_inverts_it() -> None:
    nenvs, nsteps = 2, 3
    h = np.arange(nenvs * nsteps * 2, dtype=np.float32).reshape(nenvs * nsteps, 2)  # row = env * nsteps + step
    seq = utils.batch_to_seq(h, nenvs, nsteps)
    assert len(seq) == nsteps
    for step in range(nsteps):
        np.testing.assert_array_equal(seq[step].numpy(), h[[step, nsteps + step]])
    np.testing.assert_array_equal(utils.seq_to_batch(seq).numpy(), h)


def test_flat_batch_to_seq_and_back() -> None:
    h = np.arange(6, dtype=np.float32)  # 2 envs x 3 steps, env-major
    seq = utils.batch_to_seq(h, 2, 3, flat=True)
    np.testing.assert_array_equal(seq[1].numpy(), [1.0, 4.0])
    np.testing.assert_array_equal(utils.seq_to_batch(seq, flat=True).numpy(), h)
    with pytest.raises(ValueError, match="flat=True"):
        utils.seq_to_batch(seq)


def test_sample_picks_the_argmax_of_a_peaked_row_and_stays_in_range() -> None:
    tf.random.set_seed(0)
    peaked = tf.constant([[0.0, 100.0, 0.0], [50.0, 0.0, 0.0]])
    for _ in range(20):
        np.testing.assert_array_equal(utils.sample(peaked).numpy(), [1, 0])
    drawn = utils.sample(tf.zeros((64, 5))).numpy()
    assert drawn.shape == (64,) and drawn.min() >= 0 and drawn.max() < 5
    assert len(set(drawn.tolist())) > 1


def test_sample_draws_in_softmax_proportions() -> None:
    tf.random.set_seed(1)
    probs = np.array([0.2, 0.3, 0.5])
    logits = tf.constant(np.tile(np.log(probs), (20000, 1)), tf.float32)
    counts = np.bincount(utils.sample(logits).numpy(), minlength=3) / 20000
    np.testing.assert_allclose(counts, probs, atol=0.02)


def test_cat_entropy_is_minus_sum_p_log_p() -> None:
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -(p * np.log(p)).sum(axis=1)
    np.testing.assert_allclose(utils.cat_entropy(tf.constant(logits)).numpy(), expected, rtol=1e-5)
    assert expected[1] == pytest.approx(math.log(3))
    np.testing.assert_allclose(utils.cat_entropy_softmax(tf.constant(p)).numpy(), expected, atol=1e-5)


def test_mse_avg_norm_and_get_by_index() -> None:
    np.testing.assert_allclose(utils.mse(tf.constant([1.0, 3.0]), tf.constant([0.0, 1.0])).numpy(), [0.5, 2.0])
    assert utils.avg_norm(tf.constant([[3.0, 4.0], [0.0, 0.0]])).numpy() == pytest.approx(2.5)  # (5 + 0) / 2
    x = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(utils.get_by_index(x, tf.constant([2, 0])).numpy(), [3.0, 4.0])
    with pytest.raises(ValueError, match="get_by_index"):
        utils.get_by_index(tf.zeros((2, 3, 4)), tf.constant([0, 1]))


def test_conv_to_fc_flattens_all_but_the_batch_axis() -> None:
    x = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(utils.conv_to_fc(x).numpy(), x.reshape(2, 60))
    traced = tf.function(utils.conv_to_fc).get_concrete_function(tf.TensorSpec([None, 7, 7, 64]))
    assert traced.output_shapes.as_list() == [None, 3136]


def test_check_shape_raises_on_a_mismatch() -> None:
    utils.check_shape([tf.zeros((2, 3)), tf.zeros(())], [[2, 3], []])
    with pytest.raises(ValueError, match="tensor 1"):
        utils.check_shape([tf.zeros((2, 3)), tf.zeros((4,))], [[2, 3], [5]])


def test_gradient_add_treats_a_missing_gradient_as_zero() -> None:
    param = tf.Variable([0.0, 0.0], name="w")
    g = tf.constant([1.0, 2.0])
    assert utils.gradient_add(None, g, param) is g
    assert utils.gradient_add(g, None, param) is g
    np.testing.assert_array_equal(utils.gradient_add(g, g, param).numpy(), [2.0, 4.0])
    with pytest.raises(ValueError, match="w"):
        utils.gradient_add(None, None, param)


def test_q_explained_variance_by_hand() -> None:
    q = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    qpred = tf.constant([[1.0, 2.0], [3.0, 5.0]])
    # Var[q] = (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25; residual [0, 0, 0, -1] has mean -0.25 and variance 0.1875
    assert utils.q_explained_variance(qpred, q).numpy() == pytest.approx(1.0 - 0.1875 / 1.25)
    assert utils.q_explained_variance(q, q).numpy() == pytest.approx(1.0)


# ---- TF1 builders ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "call", "replacement"), [
    ("conv", lambda: utils.conv(None, "c1", nf=32, rf=8, stride=4), "keras.layers.Conv2D"),
    ("fc", lambda: utils.fc(None, "fc1", 512), "keras.layers.Dense"),
    ("lstm", lambda: utils.lstm([], [], None, "lstm1", 128), "MaskedLSTM(input_dim, nh)"),
    ("lnlstm", lambda: utils.lnlstm([], [], None, "lstm1", 128), "layer_norm=True"),
    ("find_trainable_variables", lambda: utils.find_trainable_variables("model"), "model.trainable_variables"),
])
def test_tf1_builders_raise_naming_the_tf2_replacement(name: str, call: Callable[[], object],
                                                       replacement: str) -> None:
    with pytest.raises(NotImplementedError, match=f"a2c.utils.{name} is TensorFlow 1 only") as raised:
        call()
    assert replacement in str(raised.value)


def test_the_named_lstm_replacement_takes_the_arguments_the_message_shows() -> None:
    from baselines_tf2.common.models import MaskedLSTM

    layer = MaskedLSTM(4, 3, layer_norm=True)  # MaskedLSTM(input_dim, nh, layer_norm=True)
    assert layer.units == 3 and layer.layer_norm


def test_importing_the_a2c_package_stays_free_of_tensorflow() -> None:
    probe = ("import sys, baselines_tf2.a2c\n"
             "assert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(utils.schedules))
def test_a2c_learn_anneals_lr_by_these_schedules(name: str) -> None:
    """a2c.learn's `lrschedule` names these schedules; the learner reads them by fraction of training remaining."""
    from baselines_tf2.a2c.a2c import A2CConfig

    schedule = A2CConfig(lr=0.01, lrschedule=name).lr_schedule()
    for remaining in (1.0, 0.8, 0.5, 0.1):
        assert schedule(remaining) == pytest.approx(0.01 * utils.schedules[name](1.0 - remaining))
    assert A2CConfig(lrschedule="middle_drop").lr_schedule()(0.5) == pytest.approx(7e-4 * 0.075)
