"""A real dovecot IMAP server on loopback for the IMAP channel tests: own config dir, a free port,
a passwd-file user, a maildir in a temporary directory and IMAPS with a test CA.

Debian package: dovecot-imapd (`make test` installs it). Without the binary the tests skip,
except under CI, where they fail.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.fakes.email_tls import make_pki
from tests.support.ports import free_port

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
USER = "warga"
PASSWORD = "sandi-rahasia-imap"


@dataclass(frozen=True)
class Dovecot:
    """A running dovecot: where it listens, who may log in, and the CA that signed its certificate."""

    port: int
    user: str
    password: str
    ca_file: Path
    root: Path

    def client(self) -> IMAPClient:
        """A verified IMAPS client, logged in."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = IMAPClient("127.0.0.1", self.port, ssl=True, ssl_context=context, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        """Deliver messages into a folder over IMAP APPEND."""
        client = self.client()
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for message in messages:
                client.append(folder, message)
        finally:
            client.logout()

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """The flags of every message in a folder, by UID."""
        client = self.client()
        try:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            return {uid: tuple(data[b"FLAGS"]) for uid, data in client.fetch(uids, ["FLAGS"]).items()}
        finally:
            client.logout()


def require_dovecot() -> str:
    """The dovecot binary, or skip (fail under CI) when it is not installed."""
    if DOVECOT is None:
        message = "dovecot is not installed (apt-get install dovecot-imapd)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return DOVECOT


def _identities() -> tuple[str, str, int, int]:
    """(login user, internal user, mail uid, mail gid): unprivileged accounts, as dovecot demands."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
    nobody = pwd.getpwnam("nobody")
    return "dovenull", "dovecot", nobody.pw_uid, nobody.pw_gid


def _config(root: Path, port: int, cert: Path, key: Path) -> str:
    login_user, internal_user, uid, gid = _identities()
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
first_valid_gid = 0
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # No auth penalty (growing delays after a failed login from the same IP), which would slow
  # every test after the wrong-password ones: https://doc.dovecot.org/configuration_manual/authentication/auth_penalty/
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
"""


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    """Start a private dovecot and stop it afterwards (its own config dir, port and users)."""
    binary = require_dovecot()
    # A short path of our own: unix sockets under base_dir have a 108-byte limit, and pytest's
    # tmp_path sits under a 0700 directory the unprivileged mail user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="lapor-dovecot-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        root.chmod(0o755)
        pki = make_pki(root / "pki")
        pki.server_key.chmod(0o644)  # read by the unprivileged login process; a throwaway test key
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n", encoding="utf-8")
        (root / "home").mkdir()
        _login_user, _internal, uid, gid = _identities()
        if os.geteuid() == 0:
            os.chown(root / "home", uid, gid)
        port = free_port()
        config = root / "dovecot.conf"
        config.write_text(_config(root, port, pki.server_cert, pki.server_key), encoding="utf-8")
        process = subprocess.Popen(
            [binary, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        _wait_for_port(port, process, root)
        yield Dovecot(port, USER, PASSWORD, pki.ca_cert, root)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (root / "dovecot.log").read_text(errors="replace") if (root / "dovecot.log").exists() else ""
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"dovecot exited with {process.returncode}: {output}\n{log}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("dovecot did not start listening")
