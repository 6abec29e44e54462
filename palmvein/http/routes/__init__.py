"""API routers of the composition root; domain packages contribute their own ``routes`` modules."""
