"""baselines' path `baselines.common.models`: re-exports `baselines_tf2.nn.models` (the TensorFlow side)."""

from baselines_tf2.nn.models import (  # noqa: F401
    LAYER_NORM_EPSILON,
    LSTM_GAIN,
    NATURE_CNN_CONVS,
    PADDINGS,
    SMALL_CNN_CONVS,
    TORSO_GAIN,
    MaskedLSTM,
    RecurrentNetwork,
    build_impala_cnn,
    cnn,
    cnn_lnlstm,
    cnn_lstm,
    cnn_small,
    conv_only,
    get_network_builder,
    impala_cnn,
    impala_cnn_lstm,
    is_recurrent,
    lstm,
    mlp,
    nature_cnn,
    register,
    registered_networks,
)

__all__ = [
    'TORSO_GAIN', 'LSTM_GAIN', 'LAYER_NORM_EPSILON', 'NATURE_CNN_CONVS', 'SMALL_CNN_CONVS', 'PADDINGS', 'register',
    'get_network_builder', 'registered_networks', 'is_recurrent', 'mlp', 'cnn', 'cnn_small', 'conv_only', 'impala_cnn',
    'MaskedLSTM', 'RecurrentNetwork', 'lstm', 'cnn_lstm', 'cnn_lnlstm', 'impala_cnn_lstm',
    'nature_cnn', 'build_impala_cnn',
]
