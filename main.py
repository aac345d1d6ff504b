"""Start JitGrad: ``python main.py`` does what the ``jitgrad`` command does (see ``--help``)."""

import sys

from gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
