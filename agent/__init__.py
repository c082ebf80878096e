"""The answer pipeline (planned: issue "The answering agent")."""
