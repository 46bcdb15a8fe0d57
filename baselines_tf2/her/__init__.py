"""Hindsight Experience Replay (baselines' `her`): DDPG on goal-based envs, and a HER replay buffer for SAC and TD3."""
