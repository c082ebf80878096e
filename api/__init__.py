"""The HTTP service, the CLI and the web console: the outermost layer (nothing imports from it)."""
