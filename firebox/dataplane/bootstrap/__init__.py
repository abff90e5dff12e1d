"""Code that runs inside execution environments. Standard library only; never imports firebox."""

from pathlib import Path

RUNTIME_SCRIPT = Path(__file__).with_name("runtime.py")
