"""The data plane: the invocation path from a resolved function version to a result, through sandboxed execution
environments forked from per-runtime zygotes. Never parses HTTP."""
