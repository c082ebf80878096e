"""HTTP routes, one module per area; each is thin: validate, call the domain, map its errors."""
