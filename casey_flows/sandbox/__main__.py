"""``python -m casey_flows.sandbox``."""

import sys

from casey_flows.sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
