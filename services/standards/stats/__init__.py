"""stats module of the standards service."""
