from callbot.cli import main

raise SystemExit(main())
