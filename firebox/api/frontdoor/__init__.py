"""The HTTP front doors: function URLs and API Gateway APIs, served on the server's own listener.

`app.Dispatch` sends a request here when its Host names a URL or an API (`<id>.lambda-url.<region>.<domain>`,
`<id>.execute-api.<domain>`) or its path is path-style (`/_aws/lambda-url/<id>/...`, `/_aws/execute-api/<id>/...`).
Each door turns the HTTP request into the event its AWS counterpart builds (`events`), calls the data plane's router
with it, and maps the result back to HTTP as AWS does.
"""
