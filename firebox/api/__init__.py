"""The HTTP edge: Lambda's REST API. Turns requests into plane calls and results into AWS-shaped responses."""
