"""`python -m modeldistill`: the same command as `modeldistill`."""

from modeldistill.cli import main

raise SystemExit(main())
