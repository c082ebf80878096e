"""Benchmarks: run with `.venv/bin/python -m bench.<name>`; results land in bench/results/ and docs/performance.md."""
