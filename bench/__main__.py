"""`python -m bench`: run every scenario and reference, print and save the results."""

from __future__ import annotations

import sys

from .run import main

if __name__ == "__main__":
    sys.exit(main())
