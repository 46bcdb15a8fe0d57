"""PPO2 (Schulman et al. 2017) as in baselines: `from baselines_tf2.ppo2 import ppo2; ppo2.learn(...)`."""
