"""casey-flows: casey."""
