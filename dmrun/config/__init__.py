"""Config schema and loading."""
