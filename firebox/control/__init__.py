"""The control plane: the rules for managing functions, applied to the store. Never runs user code."""
