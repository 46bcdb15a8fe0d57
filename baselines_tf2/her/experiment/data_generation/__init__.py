"""Making demonstration files for HER's `demo_file` (baselines' `fetch_data_generation.py`): `record_demos`."""
