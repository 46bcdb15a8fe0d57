"""A2C (Mnih et al. 2016, synchronous) as in baselines: `from baselines_tf2.a2c import a2c; a2c.learn(...)`."""
