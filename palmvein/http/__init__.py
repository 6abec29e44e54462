"""HTTP wiring of the composition root: middleware, authentication dependencies, routes."""
