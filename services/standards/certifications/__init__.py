"""certifications module of the standards service."""
