from orderflow.cli import main

raise SystemExit(main())
