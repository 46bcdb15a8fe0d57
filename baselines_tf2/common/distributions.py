"""baselines' path `baselines.common.distributions`: re-exports `baselines_tf2.nn.distributions`
(the TensorFlow side)."""

from baselines_tf2.nn.distributions import (  # noqa: F401
    HALF_LOG_TWO_PI,
    SUPPORTED_SPACES,
    BernoulliPd,
    CategoricalPd,
    DiagGaussianHead,
    DiagGaussianPd,
    MultiCategoricalPd,
    make_pd,
    make_pd_head,
)

__all__ = [
    'HALF_LOG_TWO_PI', 'SUPPORTED_SPACES', 'CategoricalPd', 'MultiCategoricalPd', 'BernoulliPd', 'DiagGaussianPd',
    'DiagGaussianHead', 'make_pd_head', 'make_pd',
]
