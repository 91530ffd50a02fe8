"""Worker processes for plugins that are not trusted: one pool per plugin, each worker a
separate Python process with the plugin's limits.

What a worker enforces, from the plugin's `Permissions`:

- `max_memory`: the address-space limit of the process (`RLIMIT_AS`); a plugin that goes
  past it gets MemoryError, or the process dies, and the call fails.
- `max_time`: the caller waits that long for an answer, then kills the worker (SIGKILL)
  and starts a new one for the next call.
- `network: false`: opening, connecting or binding a socket and resolving names are
  refused (a Python audit hook raises PermissionError).
- `files`: reading a file outside the listed paths and Python's own library paths is
  refused; writing any file is refused.
- `secrets`: the worker's environment holds only the listed variables (plus PATH and
  PYTHONPATH).
- starting processes (`subprocess`, `os.system`, `os.exec*`, `os.fork`) is refused.

Audit hooks bind Python code, not native code: a C extension or `ctypes` can go around
them. For untrusted native code run the plugin host in its own container with a network
policy (the Helm chart's plugin host has one); docs/plugins.md says the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from arka.base.errors import ArkaError
from arka.plugins.sdk import Permissions

_START_TIMEOUT = 60.0  # seconds for a new worker to import and configure its plugin
_MAX_FRAME = 256 * 1024 * 1024


class WorkerFault(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------ framing

def write_frame(out: IO[bytes], message: Any) -> None:
    data = json.dumps(message, ensure_ascii=False).encode()
    out.write(struct.pack(">I", len(data)) + data)
    out.flush()


def read_frame(inp: IO[bytes]) -> Any:
    head = inp.read(4)
    if len(head) < 4:
        raise EOFError("closed")
    (n,) = struct.unpack(">I", head)
    if n > _MAX_FRAME:
        raise EOFError(f"frame of {n} bytes")
    data = inp.read(n)
    if len(data) < n:
        raise EOFError("closed")
    return json.loads(data)


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError("closed")
        buf += chunk
    return bytes(buf)


def _read_frame_until(fd: int, deadline: float) -> Any:
    (n,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if n > _MAX_FRAME:
        raise EOFError(f"frame of {n} bytes")
    return json.loads(_read_exact(fd, n, deadline))


# ------------------------------------------------------------------ the child process

def guard(permissions: Mapping[str, Any], readable: list[str]) -> None:
    """Install the audit hook that refuses what the permissions do not allow."""
    network = bool(permissions.get("network"))
    roots = tuple(os.path.realpath(p) for p in readable if p)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def allowed(path: Any) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode = args[0], args[1]
            if path is None or isinstance(path, int):
                return
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                bool(flags & write_flags)
            if writing:
                raise PermissionError(f"plugin may not write files ({os.fsdecode(path)})")
            if not allowed(path):
                raise PermissionError(f"plugin may not read {os.fsdecode(path)} (not in its "
                                      "files permission)")
        elif event in ("socket.__new__", "socket.connect", "socket.bind",
                       "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                       "socket.sendto", "socket.sendmsg"):
            if not network:
                raise PermissionError("plugin may not use the network (no network permission)")
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn",
                       "os.spawn", "os.fork", "os.forkpty", "pty.spawn"):
            raise PermissionError("plugin may not start processes")

    sys.addaudithook(hook)


def limit_memory(nbytes: int) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX: documented as unenforced
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = nbytes if hard == resource.RLIM_INFINITY else min(nbytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """The worker's main loop (`python -m arka.plugins.worker`): load the plugin named by
    the first message, then answer calls until stdin closes."""
    from arka.plugins.host import encode_result, load_class, run_export

    init = read_frame(inp)
    permissions = init["permissions"]
    try:
        cls = load_class(init["target"])
        plugin = cls(init["config"])
        version = plugin.data_version()
    except Exception as exc:  # noqa: BLE001 - reported to the parent as the start failure
        write_frame(out, ["error", "E_PLUGIN_START", f"{type(exc).__name__}: {exc}"])
        return
    readable = [p for p in sys.path if p] + [sys.prefix, sys.base_prefix,
                                             *permissions.get("files", ())]
    limit_memory(int(permissions["max_memory"]))
    guard(permissions, readable)
    write_frame(out, ["ready", cls.version, json.dumps(version, sort_keys=True, default=str)])
    while True:
        try:
            message = read_frame(inp)
        except (EOFError, OSError):
            break
        function, args_text = message
        try:
            result = run_export(plugin, function, args_text)
            text = encode_result(result)
            data_version = json.dumps(plugin.data_version(), sort_keys=True, default=str)
            reply = ["ok", text, data_version]
        except MemoryError:
            reply = ["error", "E_PLUGIN_MEMORY", f"plugin.{cls.name}.{function} ran out of "
                     f"memory (max_memory {permissions['max_memory']} bytes)"]
        except ArkaError as exc:  # the plugin's own error, with its code
            reply = ["error", exc.code, exc.message]
        except Exception as exc:  # noqa: BLE001 - any failure is the call's error
            reply = ["error", "E_PLUGIN", f"plugin.{cls.name}.{function} failed: "
                     f"{type(exc).__name__}: {exc}"]
        try:
            write_frame(out, reply)
        except MemoryError:
            write_frame(out, ["error", "E_PLUGIN_MEMORY", "the result does not fit in "
                              "max_memory"])
    with contextlib.suppress(Exception):
        plugin.close()


# ------------------------------------------------------------------ the parent side

def _environment(permissions: Permissions) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in permissions.secrets}
    env["PATH"] = os.environ.get("PATH", "")
    # the same imports as this process, installed or not
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Worker:
    def __init__(self, target: str, config: Mapping[str, Any], permissions: Permissions):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "arka.plugins.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=_environment(permissions), close_fds=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin = self.process.stdin
        self.fd = self.process.stdout.fileno()
        try:
            write_frame(self.stdin, {"target": target, "config": json.loads(
                json.dumps(config, default=str)), "permissions": permissions.to_json()})
            reply = _read_frame_until(self.fd, time.monotonic() + _START_TIMEOUT)
        except TimeoutError:
            self.kill()
            raise WorkerFault("E_PLUGIN_START", f"plugin worker did not start within "
                              f"{_START_TIMEOUT:.0f}s") from None
        except (EOFError, OSError, ValueError):
            code = self.kill()
            raise WorkerFault("E_PLUGIN_START", f"plugin worker exited while starting "
                              f"(exit code {code})") from None
        if reply[0] != "ready":
            self.kill()
            raise WorkerFault(reply[1], reply[2])
        self.version: str = reply[1]
        self.data_version = json.loads(reply[2])

    def call(self, function: str, args_text: str, timeout: float) -> tuple[str, Any]:
        try:
            write_frame(self.stdin, [function, args_text])
            reply = _read_frame_until(self.fd, time.monotonic() + timeout)
        except TimeoutError:
            self.kill()
            raise WorkerFault("E_PLUGIN_TIMEOUT", f"no answer within {timeout:g}s "
                              "(max_time); the worker was stopped") from None
        except (EOFError, OSError, ValueError):
            code = self.kill()
            raise WorkerFault("E_PLUGIN_CRASH", f"the plugin worker process died during the "
                              f"call (exit code {code})") from None
        if reply[0] == "ok":
            return reply[1], json.loads(reply[2])
        raise WorkerFault(reply[1], reply[2])

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int | None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()
        return self.process.returncode

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.stdin.close()
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(Exception):
            if self.process.stdout is not None:
                self.process.stdout.close()


class WorkerPool:
    """Up to `size` worker processes for one plugin, started on demand; a worker that
    timed out or died is replaced by a new one on the next call."""

    def __init__(self, target: str, config: Mapping[str, Any], permissions: Permissions,
                 size: int = 2):
        self.target = target
        self.config = config
        self.permissions = permissions
        self.size = max(1, size)
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise WorkerFault("E_PLUGIN_UNAVAILABLE", "the plugin host is shut down")
                while self._idle:
                    w = self._idle.pop()
                    if w.alive():
                        return w
                    self._count -= 1
                if self._count < self.size:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return _Worker(self.target, self.config, self.permissions)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, w: _Worker | None) -> None:
        with self._cond:
            if w is not None and w.alive() and not self._closed:
                self._idle.append(w)
            else:
                self._count -= 1
                if w is not None:
                    w.kill()
            self._cond.notify()

    def call(self, function: str, args_text: str) -> tuple[str, Any, str]:
        """(result JSON text, data version, plugin version) of one call, or WorkerFault."""
        w = self._acquire()
        try:
            text, data_version = w.call(function, args_text, self.permissions.max_time)
        except WorkerFault:
            self._release(w if w.alive() else None)
            raise
        self._release(w)
        return text, data_version, w.version

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for w in idle:
            w.stop()
