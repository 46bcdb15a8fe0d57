"""Shared building blocks. Deliberately empty: importing `baselines_tf2.common` must stay cheap and TF-free."""
