"""`python -m qwertyclf`: the same as the `qwertyclf` command."""

import sys

from qwertyclf.cli import main

if __name__ == "__main__":
    sys.exit(main())
