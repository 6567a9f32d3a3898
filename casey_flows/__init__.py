"""casey-flows: casey_flows."""
