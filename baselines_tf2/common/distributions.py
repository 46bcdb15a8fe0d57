"""baselines' path `baselines.common.distributions`: re-exports `baselines_tf2.nn.distributions` and the `PdType`
classes of `baselines_tf2.nn.pd_types` (the TensorFlow side)."""

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
from baselines_tf2.nn.pd_types import (  # noqa: F401
    BernoulliPdType,
    CategoricalPdType,
    DiagGaussianPdType,
    MultiCategoricalPdType,
    PdType,
    make_pdtype,
)

__all__ = [
    'HALF_LOG_TWO_PI', 'SUPPORTED_SPACES', 'CategoricalPd', 'MultiCategoricalPd', 'BernoulliPd', 'DiagGaussianPd',
    'DiagGaussianHead', 'make_pd_head', 'make_pd', 'PdType', 'CategoricalPdType', 'MultiCategoricalPdType',
    'BernoulliPdType', 'DiagGaussianPdType', 'make_pdtype',
]
