import gc

gc.disable()  # the imports' objects all live to the end: orderflow.cli.run turns it on after them

from orderflow.cli import run  # noqa: E402

raise SystemExit(run())
