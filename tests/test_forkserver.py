"""tests/forkserver.py behaves like subprocess for its callers: output, exit status, environment,
signals, and a SIGKILL that takes the forked child with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests import forkserver


def test_a_snippet_gets_its_environment_stdin_and_exit_status(tmp_path):
    assert forkserver.enabled()
    code = "import os, sys\nprint(os.environ['PROBE'], sys.stdin.read(), os.getcwd())\nsys.exit(3)"
    done = forkserver.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PROBE": "hola"},
        cwd=tmp_path,
        input="entrada",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.split() == ["hola", "entrada", str(tmp_path)]
    assert forkserver.command([sys.executable, "-c", code])[:3] == [sys.executable, "-S", "-I"]  # it was forked


def _child_of(process: subprocess.Popen) -> int:
    line = process.stdout.readline()
    assert line, "the child printed nothing"
    return int(line)


def test_sigterm_reaches_the_child_and_its_status_comes_back():
    code = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)"
    process = forkserver.popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = _child_of(process)
    assert child != process.pid
    process.terminate()
    assert process.wait(10) == -signal.SIGTERM
    process.stdout.close()


def test_a_killed_client_takes_its_child_with_it():
    code = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)"
    process = forkserver.popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = _child_of(process)
    process.kill()
    process.wait(10)
    process.stdout.close()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
        time.sleep(0.05)  # poll interval: the server reaps it as soon as it sees the client gone
    assert not os.path.exists(f"/proc/{child}")
