"""HTTP routes, one module per area (DESIGN.md: api/)."""
