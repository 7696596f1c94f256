"""A fork server for the Python processes the tests start (Daphne, Django snippets, manage.py).

Every such process used to pay ~2 s of CPU importing Django, Twisted, DRF, Celery… before doing
anything: a third of the browser stage's CPU (one Daphne per test). The server imports those
libraries once, without settings, and forks a child per request, which then reads its own
environment, imports the settings and the project as a fresh interpreter would.

`popen(args, ...)` is `subprocess.Popen` for the caller: the process it returns is a tiny client
(`python -S -I tests/forkserver_client.py`, stdlib only) that hands its stdin/stdout/stderr, argv,
environment and working folder to the server, forwards the signals it gets (SIGTERM, SIGINT…)
to the forked child and exits with the child's status. SIGKILL cannot be forwarded: the server
sees the client's end of the socket close and SIGKILLs the child, and waits for it, before it
reads the next request — so a Daphne restarted on the same port never finds the old one there.

What may be forked: `python -c CODE`, `python -m MODULE …`, `python SCRIPT …` and the `daphne`
console script. Only the test suite uses it (tests/conftest.py calls `enable()`; benchmarks read
their servers' CPU from /proc and keep plain processes); `PORTAL_TEST_FORKSERVER=0` turns it off.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT = Path(__file__).with_name("forkserver_client.py")
DAPHNE = str(Path(sys.executable).with_name("daphne"))

# Imported once in the server. Nothing here may need settings (the server has none: a module that
# reads them at import fails and is skipped) or start a thread or an event loop (a forked child
# keeps only the forking thread). daphne.server is not here: it installs Twisted's reactor.
PRELOAD = (
    "django.db.models",
    "django.http",
    "django.urls",
    "django.template",
    "django.forms",
    "django.core.handlers.asgi",
    "django.core.handlers.wsgi",
    "django.contrib.postgres.fields",
    "django.core.management",
    "psycopg",
    "psycopg_pool",
    "environ",
    "twisted.internet.asyncioreactor",
    "twisted.internet.tcp",
    "autobahn.twisted.websocket",
    "channels.generic.websocket",
    "channels_redis.core",
    "redis.asyncio",
    "celery",
    "kombu",
    "rest_framework.fields",
    "rest_framework.serializers",
    "drf_spectacular.plumbing",
    "whoosh.index",
    "whoosh.qparser",
    "markdown",
    "nh3",
    "requests",
    "holidays",
    "PIL.Image",
)

_HEADER = struct.Struct("!I")


_ENABLED: list[bool] = []  # set by tests/conftest.py: benchmarks measure their servers' own CPU


def enable() -> None:
    """Use the server in this process (the test suite; `PORTAL_TEST_FORKSERVER=0` keeps Popen)."""
    if os.environ.get("PORTAL_TEST_FORKSERVER", "1") != "0":
        _ENABLED.append(True)


def enabled() -> bool:
    return bool(_ENABLED)


def forkable(args: list[str]) -> bool:
    """Can this command line run in a child of the server?"""
    if not args:
        return False
    if args[0] == DAPHNE:
        return True
    return args[0] == sys.executable and len(args) >= 2 and (args[1] in ("-c", "-m") or not args[1].startswith("-"))


# --- the server -----------------------------------------------------------------------------


def serve(path: str) -> None:
    """Preload, listen on the Unix socket `path`, fork a child per request (runs forever)."""
    _die_with_parent()
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}  # pid -> the client's connection

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(struct.pack("!i", os.waitstatus_to_exitcode(status)))
                selector.unregister(conn)
                conn.close()

    def end(conn: socket.socket) -> None:
        """The client is gone (SIGKILL): so is its child, before anything else is read."""
        pid = next((pid for pid, c in children.items() if c is conn), None)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            children.pop(pid)
        selector.unregister(conn)
        conn.close()

    def terminate(*_args) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    while True:
        events = selector.select()
        reap()
        ready = [key.fileobj for key, _mask in events]
        for conn in ready:
            if isinstance(conn, socket.socket) and conn is not listener and conn in children.values():
                with contextlib.suppress(OSError):
                    if conn.recv(1, socket.MSG_PEEK) == b"":
                        end(conn)
        if wake_read in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_read, 4096)
        if listener in ready:
            conn, _ = listener.accept()
            try:
                request, fds = _receive_request(conn)
            except (OSError, ValueError):
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                for other in children.values():
                    other.close()
                conn.close()
                os.close(wake_read)
                os.close(wake_write)
                _run_child(request, fds)  # never returns
            for fd in fds:
                os.close(fd)
            children[pid] = conn
            selector.register(conn, selectors.EVENT_READ)
            try:
                conn.sendall(struct.pack("!i", pid))
            except OSError:  # the client was killed before it got the pid: its child goes too
                end(conn)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the server gets SIGTERM when the test process that started it dies."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _receive_request(conn: socket.socket) -> tuple[dict, list[int]]:
    fds = array.array("i")
    data, ancillary, _flags, _addr = conn.recvmsg(_HEADER.size, socket.CMSG_LEN(3 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    if len(data) != _HEADER.size or len(fds) != 3:
        raise ValueError("bad request")
    (size,) = _HEADER.unpack(data)
    body = b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ValueError("truncated request")
        body += chunk
    return json.loads(body), list(fds)


def _run_child(request: dict, fds: list[int]) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL if number != signal.SIGINT else signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
        sys.stdout.reconfigure(write_through=unbuffered)
        sys.stderr.reconfigure(write_through=True)
        for entry in reversed(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
            if entry and entry not in sys.path:
                sys.path.insert(0, entry)
        code = _main(request["args"])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, int | None):
            print(exit_.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - the child reports it as Python would, then exits
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()  # as an interpreter's normal exit does (logging's flush…)
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _main(args: list[str]) -> int:
    """Run the command line as `python …` (or `daphne …`) would, in this process."""
    if args[0] == DAPHNE:
        from daphne.cli import CommandLineInterface

        sys.argv = ["daphne", *args[1:]]
        CommandLineInterface.entrypoint()
        return 0
    option, rest = args[1], args[2:]
    if option == "-c":
        sys.argv = ["-c", *rest[1:]]
        sys.path.insert(0, "")
        exec(compile(rest[0], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})  # noqa: S102
    elif option == "-m":
        sys.argv = [rest[0], *rest[1:]]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(rest[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = [option, *rest]
        sys.path.insert(0, str(Path(option).resolve().parent))
        runpy.run_path(option, run_name="__main__")
    return 0


# --- the caller's side --------------------------------------------------------------------------

_SERVER: dict[str, object] = {}
_LOCK = threading.Lock()


def _server_path() -> str | None:
    """Start this process's server once (None if it cannot start: callers fall back to Popen)."""
    with _LOCK:
        if "path" in _SERVER:
            return _SERVER["path"]  # type: ignore[return-value]
        folder = tempfile.mkdtemp(prefix="portal-forkserver-")
        path = os.path.join(folder, "server.sock")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        process = subprocess.Popen(
            [sys.executable, "-c", f"from tests.forkserver import serve; serve({path!r})"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not os.path.exists(path) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not os.path.exists(path):
            process.kill()
            _SERVER["path"] = None
            return None
        _SERVER.update(path=path, process=process)
        atexit.register(_stop_server, process, folder)
        return path


def server_pid() -> int | None:
    process = _SERVER.get("process")
    return process.pid if isinstance(process, subprocess.Popen) else None


def stop() -> None:
    """Stop this process's server (at the end of the session, after the leftover checks)."""
    process, path = _SERVER.get("process"), _SERVER.get("path")
    if isinstance(process, subprocess.Popen) and isinstance(path, str):
        _stop_server(process, os.path.dirname(path))
    _SERVER.clear()
    _SERVER["path"] = None  # nothing is forked after this


def _stop_server(process: subprocess.Popen, folder: str) -> None:
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(folder, "server.sock"))
        os.rmdir(folder)


def command(args: list[str]) -> list[str]:
    """The command line that runs `args` through the fork server (or `args` itself)."""
    if not enabled() or not forkable(args):
        return list(args)
    path = _server_path()
    if path is None:
        return list(args)
    return [sys.executable, "-S", "-I", str(CLIENT), path, *args]


def popen(args: list[str], **kwargs) -> subprocess.Popen:
    """subprocess.Popen(args, **kwargs), forked from the server where it can be."""
    return subprocess.Popen(command(args), **kwargs)


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run(args, **kwargs), forked from the server where it can be."""
    return subprocess.run(command(args), **kwargs)  # the caller passes check=
