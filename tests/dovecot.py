"""A throwaway Dovecot IMAP server for tests: config, users and maildirs of its own (no
system-wide config), listening on 127.0.0.1 on a free port, stopped afterwards."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {run}
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{run}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
  default_fields = uid={mail_user} gid={mail_group} home={run}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = {user}
}}
service auth-worker {{
  user = {user}
}}
"""


@dataclass
class Imap:
    port: int
    username: str
    password: str

    @property
    def url(self) -> str:
        return f"imap://{self.username}:{self.password}@127.0.0.1:{self.port}/INBOX"


def available() -> bool:
    return Path(DOVECOT).exists()


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {proc.returncode}: {log.read_text() if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"dovecot not ready on port {port} after {timeout} s")


@contextlib.contextmanager
def dovecot(tmp_path: Path, *, username: str = "soporte", password: str = "imap-Test-pass") -> Iterator[Imap]:  # noqa: S107
    """Run `dovecot -F -c <conf>` (config, users and log in tmp_path) for the current user.

    Dovecot never runs its login or mail processes as root: as root (CI), logins run as Debian's
    dovenull/dovecot users and mail as `nobody`, so the sockets and the maildir live in a
    temporary directory those users can reach (tmp_path's parents are private), removed after.
    """
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    if os.getuid() == 0:
        internal_user, internal_group, login_user = "dovecot", "dovecot", "dovenull"
        mail_user, mail_group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
    else:
        internal_user, internal_group, login_user = user, group, user
        mail_user, mail_group = user, group
    run = Path(tempfile.mkdtemp(prefix="dovecot-"))
    run.chmod(0o755)
    for sub in ("mail", "home"):
        (run / sub).mkdir()
        shutil.chown(run / sub, mail_user, mail_group)
    port = free_port()
    (tmp_path / "users").write_text(f"{username}:{{PLAIN}}{password}::::::\n")
    conf = tmp_path / "dovecot.conf"
    conf.write_text(
        CONFIG.format(
            run=run,
            root=tmp_path,
            port=port,
            user=user,
            group=group,
            internal_user=internal_user,
            internal_group=internal_group,
            login_user=login_user,
            mail_user=mail_user,
            mail_group=mail_group,
        )
    )
    output = tmp_path / "dovecot.out"
    with output.open("wb") as out:
        proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, tmp_path / "dovecot.log")
        yield Imap(port, username, password)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(run, ignore_errors=True)
