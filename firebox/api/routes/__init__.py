"""One module per resource family of the Lambda API."""
