from streamwatch.cli import main

raise SystemExit(main())
