"""verification module of the standards service."""
