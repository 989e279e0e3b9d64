from orderflow.launch import run

raise SystemExit(run())
