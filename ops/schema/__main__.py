"""python -m ops.schema: see ops/schema/__init__.py."""
import sys

from ops.schema.cli import main

sys.exit(main())
