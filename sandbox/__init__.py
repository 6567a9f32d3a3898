"""casey-flows: sandbox."""
