"""baselines' test envs (`identity_env`, `fixed_sequence_env`) on the gymnasium API (no TensorFlow).

The envs of `baselines_tf2.common.envs` are this project's own variants, with a fixed episode length.
"""
