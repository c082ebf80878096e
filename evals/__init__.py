"""Eval suites, metrics and reports (planned: issue "Eval harness")."""
