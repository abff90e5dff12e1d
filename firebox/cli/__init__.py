"""The `firebox` command line. Talks to the server over HTTP only; never imports the planes."""
