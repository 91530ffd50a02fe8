"""gRPC services (the RTVM, the plugin host) and their clients."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable


def stop_with_parent(stop: Callable[[], None], parent: int, interval: float = 1.0) -> None:
    """In a worker process of a service: call `stop` when the parent process (`parent`,
    its pid as the parent saw it) is gone — killed, so it could not stop its workers —
    so that no orphan keeps serving the port. Also when it died before this started."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        stop()

    threading.Thread(target=watch, name="arka-parent-watch", daemon=True).start()
