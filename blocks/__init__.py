"""casey-flows: blocks."""
