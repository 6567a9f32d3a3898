"""casey-flows: flows."""
