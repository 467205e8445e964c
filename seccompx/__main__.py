"""Entry point for ``python -m seccompx`` and the ``seccompx`` script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
