"""`make run` driven as a developer drives it: in its own process group (a terminal's), on free
loopback ports through its port settings, with its run folder in a temporary directory.

The stack is built from the debug build `make test` already made (run.sh's `swift build` is then a
no-op); every wait is bounded and every process started here is stopped at the end.
"""

import os
import pathlib
import re
import shlex
import signal
import subprocess

from parley_stack import ROOT, free_port, http_ok, wait_until  # tests/ is on the path (tests/conftest.py)

SERVICES = ["presence-svc", "offline-svc", "relay-svc", "ws-edge-1", "ws-edge-2"]
PORT_SETTINGS = {"redis": "REDIS_PORT", "tansu": "KAFKA_PORT", "relay-svc": "RELAY_PORT",
                 "presence-svc": "PRESENCE_PORT", "offline-svc": "OFFLINE_PORT",
                 "ws-edge-1": "EDGE1_PORT", "ws-edge-2": "EDGE2_PORT"}
# The edges' admin ports (/readyz); every other service's one port is its admin port.
ADMIN_PORT_SETTINGS = {"ws-edge-1": "EDGE1_ADMIN_PORT", "ws-edge-2": "EDGE2_ADMIN_PORT"}
START_TIMEOUT = 300  # seconds: a no-op build and five services on a loaded machine, far below it


def alive(pid):
    """True while `pid` runs (a zombie, whose exit nobody collected yet, does not)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def environment(**overrides):
    """The test's environment without make's own variables (this may run inside `make test`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def restore_sigint():
    # A terminal's Ctrl-C reaches a foreground `make run`; a process started in the background
    # of a non-interactive shell inherits SIGINT ignored, which bash could not trap.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Session:
    """A command in a process group of its own, its output (stdout and stderr) in a file."""

    def __init__(self, command, out, env, cwd=ROOT):
        self.out = out
        with open(out, "wb") as f:
            self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=restore_sigint)

    def output(self):
        return self.out.read_text(errors="replace")

    def wait_output(self, text, timeout):
        def seen():
            if text in self.output():
                return True
            if self.proc.poll() is not None:
                raise AssertionError(f"exited ({self.proc.returncode}) before printing {text!r}:\n{self.output()}")
            return False
        wait_until(seen, timeout, f"{text!r} in the output")

    def send(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals the whole group (`sig` SIGINT: Ctrl-C in its terminal) and returns the exit
        status of its leader."""
        self.send(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self):
        self.send(signal.SIGKILL)
        self.proc.wait()


class MakeRun:
    """One `make run` (or `make run-without`) stack and `make restart` against it."""

    def __init__(self, folder):
        self.folder = folder
        self.dir = folder / "run"
        self.ports = {name: free_port() for name in PORT_SETTINGS}
        self.admin_ports = {name: free_port() for name in ADMIN_PORT_SETTINGS}
        self.env = environment(RUN_DIR=self.dir, CONFIG="debug",
                               **{PORT_SETTINGS[name]: port for name, port in self.ports.items()},
                               **{ADMIN_PORT_SETTINGS[name]: port for name, port in self.admin_ports.items()})
        self.session = None
        self.by_hand = []
        self.commands = 0

    def start(self, *target, started="Parley is running"):
        """Runs `make TARGET...` until it prints `started`."""
        self.session = Session(["make", "--no-print-directory", *target], self.folder / "make-run.out", self.env)
        self.session.wait_output(started, START_TIMEOUT)

    def output(self):
        return self.session.output()

    def pid(self, name):
        return int((self.dir / f"{name}.pid").read_text())

    def admin_port(self, name):
        return self.admin_ports.get(name, self.ports[name])

    def ready(self, name):
        return http_ok(self.admin_port(name), "/readyz")

    def wait_ready(self, name, timeout=90):
        wait_until(lambda: self.ready(name), timeout, f"{name} ready on {self.admin_port(name)}")

    def make(self, *target, timeout=180):
        """Runs `make TARGET...` to its end (stopped, with its whole group, after `timeout` s);
        returns its exit status and output."""
        self.commands += 1
        session = Session(["make", "--no-print-directory", *target], self.folder / f"make-{self.commands}.out", self.env)
        try:
            status = session.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            session.kill()
            raise AssertionError(f"make {' '.join(target)} did not end within {timeout} s:\n{session.output()}")
        return status, session.output()

    def start_by_hand(self, command_line):
        """Runs a printed command line as a fresh terminal would: from the project folder, with
        none of the stack's settings in the environment. PATH and HOME alone are the environment
        the scripts build in (scripts/lib.sh swift_build), so `swift run` reuses that build."""
        env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"]}
        n = len(self.by_hand) + 1
        session = Session(shlex.split(command_line), self.folder / f"by-hand-{n}.out", env)
        self.by_hand.append(session)
        return session

    def shown(self, path):
        """A path as run.sh prints it: relative to the project when inside it."""
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    def log_path(self, line):
        """The log a report line names, resolved like the developer's shell would from the project."""
        match = re.search(r"log: (\S+)", line)
        assert match, f"no log named in: {line}"
        return (ROOT / match.group(1)).resolve()

    def close(self):
        """Ends whatever is left: the stack first gets the chance to stop cleanly; a process it
        left behind (each runs in a session of its own) is found through its pid file."""
        if self.session is not None and self.session.proc.poll() is None:
            try:
                self.session.stop()
            except subprocess.TimeoutExpired:
                pass
        for session in [self.session, *self.by_hand]:
            if session is not None:
                session.kill()
        for pid_file in self.dir.glob("*.pid"):
            pid = int(pid_file.read_text())
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
