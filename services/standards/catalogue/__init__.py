"""catalogue module of the standards service."""
