"""ACME's Spin Cycle jobs."""
