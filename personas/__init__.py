"""Personas and market rules as validated YAML (planned: issue "The answering agent")."""
