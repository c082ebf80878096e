"""Eval harness: suites of cases, metrics per market, run folders with reports, comparisons and release gates.

``polydesk`` is imported first so that its offline switches (no telemetry from ragas, no network probe from
``datasets``) are set before either library is imported.
"""

import polydesk  # noqa: F401
