"""Asynchronous invocation: the durable queue of Event invocations, the workers that run them with retries, and the
destinations that receive their outcomes."""
