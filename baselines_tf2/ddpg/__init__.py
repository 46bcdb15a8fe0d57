"""DDPG (Lillicrap et al. 2016) with baselines' API: `ddpg.learn`, `ddpg.noise`, `ddpg.memory.Memory`."""
