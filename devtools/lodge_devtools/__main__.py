"""`python -m lodge_devtools ...` is the `lodge` admin CLI."""

import sys

from lodge_devtools.cli import main

sys.exit(main())
