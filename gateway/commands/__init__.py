"""Typer command groups, one module per area; gateway/cli.py mounts them."""
