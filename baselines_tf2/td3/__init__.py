"""TD3 (Fujimoto et al. 2018): `td3.learn` in baselines' style (not in baselines)."""
