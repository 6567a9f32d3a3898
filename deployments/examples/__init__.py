"""Worked examples of pipelines built on casey-flows."""
