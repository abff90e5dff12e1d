from firebox.cli.main import main

raise SystemExit(main())
