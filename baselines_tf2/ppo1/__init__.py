"""PPO1 (baselines' ppo1): `pposgd_simple.learn` with `mlp_policy.MlpPolicy` / `cnn_policy.CnnPolicy` builders."""
