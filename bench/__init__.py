"""keyfit benchmarks: `python -m bench <name> [--size N] [--json]`. Not part of the test run."""
