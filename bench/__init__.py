"""Benchmarks: run with `.venv/bin/python -m bench.<name>`; raw results land in bench/results/, docs/performance.md records them."""
