"""Bootstrap the history from published files, then hand over to the chain (issue 16).

``orderflow import FILE`` reads CSV, JSON lines or Parquet (gzip accepted), recognises the
layout from the column names (layouts.py), and stores what it can store exactly:

* OrderFilled / OrdersMatched rows carrying their log identity, and raw logs: re-encoded into
  the raw log and stored through the listener's decode + ``store_batch`` path (events.py);
* Gamma ``/markets`` rows: token ids verified against the CTF derivation, exact resolutions
  (markets.py);
* blocks rows: the block hashes and times fill dumps lack (blocks.py).

See docs/history.md.
"""

from orderflow.history.errors import HistoryError, LayoutError
from orderflow.history.hand_over import HISTORY_STREAM
from orderflow.history.layouts import Layout, detect
from orderflow.history.report import ImportReport
from orderflow.history.run import import_file

__all__ = [
    "HISTORY_STREAM",
    "HistoryError",
    "ImportReport",
    "Layout",
    "LayoutError",
    "detect",
    "import_file",
]
