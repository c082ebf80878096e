"""The answer pipeline: conversation state, language, signals and escalation, retrieval, generators, guardrails."""
