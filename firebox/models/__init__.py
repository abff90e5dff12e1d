"""Pure data shared by every plane. Imports nothing else from the package."""
