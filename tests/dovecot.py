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
{ssl}
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
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
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
    cafile: str = ""  # the self-signed certificate, with tls=True

    @property
    def url(self) -> str:
        scheme = "imaps" if self.cafile else "imap"
        return f"{scheme}://{self.username}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def client(self):
        """A logged-in IMAPClient (trusting the test certificate with TLS)."""
        import ssl

        from imapclient import IMAPClient

        context = ssl.create_default_context(cafile=self.cafile) if self.cafile else None
        client = IMAPClient("127.0.0.1", port=self.port, ssl=bool(self.cafile), ssl_context=context, timeout=30)
        client.login(self.username, self.password)
        return client


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 valid one day, made with Debian's openssl."""
    cert, key = folder / "imap.crt", folder / "imap.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def available() -> bool:
    return Path(DOVECOT).exists()


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, *, tls: bool, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {proc.returncode}: {log.read_text() if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if tls or sock.recv(64).startswith(b"* OK"):  # a TLS server waits for the handshake
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"dovecot not ready on port {port} after {timeout} s")


@contextlib.contextmanager
def dovecot(
    tmp_path: Path,
    *,
    username: str = "soporte",
    password: str = "imap-Test-pass",  # noqa: S107
    tls: bool = False,
) -> Iterator[Imap]:
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
    cafile = ""
    if tls:
        cert, key = self_signed_certificate(tmp_path)
        cafile, ssl_line = str(cert), f"ssl = required\nssl_cert = <{cert}\nssl_key = <{key}"
    else:
        ssl_line = "ssl = no"
    (tmp_path / "users").write_text(f"{username}:{{PLAIN}}{password}::::::\n")
    conf = tmp_path / "dovecot.conf"
    conf.write_text(
        CONFIG.format(
            run=run,
            root=tmp_path,
            imap_port=0 if tls else port,
            imaps_port=port if tls else 0,
            ssl=ssl_line,
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
        _wait_for_port(port, proc, tmp_path / "dovecot.log", tls=tls)
        yield Imap(port, username, password, cafile)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(run, ignore_errors=True)
