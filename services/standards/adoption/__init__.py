"""adoption module of the standards service."""
