"""The client side of tests/forkserver.py: `python -S -I forkserver_client.py SOCKET ARGS…`.

Standard library only (it runs without site-packages). It sends its stdin, stdout and stderr,
ARGS, its environment and working folder to the fork server, forwards the signals it gets to
the forked child, and exits with the child's status (or dies of the child's signal).
"""

import array
import contextlib
import json
import os
import signal
import socket
import struct
import sys

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def main() -> None:
    path, args = sys.argv[1], sys.argv[2:]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    body = json.dumps({"args": args, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    fds = array.array("i", [0, 1, 2])
    conn.sendmsg([struct.pack("!I", len(body))], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
    conn.sendall(body)
    pid = struct.unpack("!i", _read(conn, 4))[0]

    def forward(received: int, _frame) -> None:
        with contextlib.suppress(ProcessLookupError):  # it has just ended: its status is on its way
            os.kill(pid, received)

    for number in FORWARDED:
        signal.signal(number, forward)
    status = struct.unpack("!i", _read(conn, 4))[0]
    if status < 0:  # killed by a signal: die of the same one
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    sys.exit(status)


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            sys.exit(1)  # the server went away
        data += chunk
    return data


if __name__ == "__main__":
    main()
