"""casey-flows: deployments."""
