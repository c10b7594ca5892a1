from modeldistill.cli import main

raise SystemExit(main())
