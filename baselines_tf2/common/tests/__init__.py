"""baselines' path `baselines.common.tests`: the test envs only (this project's tests live in the repository's
`tests/` folder)."""
