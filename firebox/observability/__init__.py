"""Logs, metrics and billing, recorded off the invocation hot path."""
