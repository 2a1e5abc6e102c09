"""REST controllers, one module per domain."""
