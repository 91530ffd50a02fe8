"""A plugin worker process: `python -m arka.plugins.worker` (started by a WorkerPool).

Frames on stdin and on the process's original stdout; anything the plugin prints goes
to stderr, so it can never corrupt the protocol."""

from __future__ import annotations

import os
import sys

from arka.plugins.workers import serve


def main() -> None:
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # print() in a plugin lands on stderr
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, protocol_out)


if __name__ == "__main__":
    main()
