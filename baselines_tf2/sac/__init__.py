"""SAC (Haarnoja et al. 2018): `sac.learn` in baselines' style (not in baselines)."""
