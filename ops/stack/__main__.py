"""`python -m ops.stack [command]`: ops/cli.py's command line (make run and the operator commands)."""
import sys

from ops.cli import main

sys.exit(main())
