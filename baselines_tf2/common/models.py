"""baselines' path `baselines.common.models`: re-exports `baselines_tf2.nn.models` (the TensorFlow side)."""

from baselines_tf2.nn.models import (  # noqa: F401
    TORSO_GAIN,
    LSTM_GAIN,
    LAYER_NORM_EPSILON,
    NATURE_CNN_CONVS,
    SMALL_CNN_CONVS,
    PADDINGS,
    register,
    get_network_builder,
    registered_networks,
    is_recurrent,
    mlp,
    cnn,
    cnn_small,
    conv_only,
    impala_cnn,
    MaskedLSTM,
    RecurrentNetwork,
    lstm,
    cnn_lstm,
    cnn_lnlstm,
)

__all__ = ['TORSO_GAIN', 'LSTM_GAIN', 'LAYER_NORM_EPSILON', 'NATURE_CNN_CONVS', 'SMALL_CNN_CONVS', 'PADDINGS', 'register', 'get_network_builder', 'registered_networks', 'is_recurrent', 'mlp', 'cnn', 'cnn_small', 'conv_only', 'impala_cnn', 'MaskedLSTM', 'RecurrentNetwork', 'lstm', 'cnn_lstm', 'cnn_lnlstm']
