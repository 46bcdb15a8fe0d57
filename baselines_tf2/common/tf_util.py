"""baselines' path `baselines.common.tf_util`: re-exports `baselines_tf2.nn.tf_util` (the TensorFlow side)."""

from baselines_tf2.nn.tf_util import (  # noqa: F401
    AUTO_PRECISION,
    BF16_CPU_FLAGS,
    PRECISIONS,
    CompiledFunction,
    apply_if_finite,
    assign_variables,
    cpu_has_native_bf16,
    dtype_policy,
    float32_compute,
    resolve_precision,
    set_global_seeds,
)

__all__ = [
    'PRECISIONS', 'AUTO_PRECISION', 'BF16_CPU_FLAGS', 'cpu_has_native_bf16', 'resolve_precision', 'set_global_seeds',
    'dtype_policy', 'float32_compute', 'assign_variables', 'CompiledFunction', 'apply_if_finite',
]
