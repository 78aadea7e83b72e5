"""A real Parley stack for end-to-end tests: redis-server, the Tansu broker and the four
executables as separate processes on free loopback ports, each logging to its own file.

Processes can be killed (SIGKILL, a crash) and started again, which the crash tests use.
"""

import asyncio
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not within {timeout} s")


async def eventually(condition, timeout, what):
    """`wait_until` for coroutines: `condition` runs in a worker thread (it may call redis-cli),
    so the event loop keeps reading every client's frames while the test waits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if await loop.run_in_executor(None, condition):
                return
        except OSError:
            pass
        if loop.time() >= deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        await asyncio.sleep(0.1)


def http_ok(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class Stack:
    """Starts everything in `start()`; `stop()` ends every process it started."""

    def __init__(self, state_dir, bin_dir, edge_timeout="4s", env=None):
        self.state = pathlib.Path(state_dir)
        self.bin = pathlib.Path(bin_dir)
        self.state.mkdir(parents=True, exist_ok=True)
        self.procs = {}
        # redis-cli's credentials (none: the default user).
        self.redis_cli_auth = []
        self.ports = {
            "redis": free_port(), "kafka": free_port(), "relay-svc": free_port(), "presence-svc": free_port(),
            "offline-svc": free_port(), "ws-edge-1": free_port(), "ws-edge-2": free_port(),
        }
        # With PARLEY_TEST_REDIS=cluster (scripts/test.sh's cluster pass) the services use the shared
        # test cluster; otherwise the stack starts its own redis-server.
        self.cluster = os.environ.get("PARLEY_TEST_REDIS") == "cluster"
        redis_url = os.environ["PARLEY_TEST_REDIS_URL"] if self.cluster else f"redis://127.0.0.1:{self.ports['redis']}"
        self.redis_ports = ([int(node.rsplit(":", 1)[1]) for node in redis_url.split("://", 1)[1].split(",")]
                            if self.cluster else [self.ports["redis"]])
        # The edges' admin ports (/healthz, /readyz, /metrics, the server API); the other services
        # have only an admin port, their entry in `ports`.
        self.edge_admin_ports = {"ws-edge-1": free_port(), "ws-edge-2": free_port()}
        # The server API's key (ws-edge's admin port); the other services ignore the variable.
        self.api_key = "end-to-end-api-key-0123456789abcdef"
        (self.state / "api-key").write_text(self.api_key + "\n")
        self.env = dict(os.environ)
        self.env.update({
            "PARLEY_API_KEY_FILE": str(self.state / "api-key"),
            "PARLEY_KAFKA_BROKERS": f"127.0.0.1:{self.ports['kafka']}",
            "PARLEY_REDIS_URL": redis_url,
            "PARLEY_KAFKA_SESSION_TIMEOUT": "2s",
            "PARLEY_TOPIC_PARTITIONS": "4",
            "PARLEY_DEV_LOGIN": "true",
            "PARLEY_JWT_SECRET": "end-to-end-test-secret-0123456789",
            # Both edges (and an edge after a restart) accept each other's dev-login tokens.
            "PARLEY_DEV_LOGIN_SECRET": "end-to-end-dev-login-secret-0123456789",
            "PARLEY_EDGE_TIMEOUT": edge_timeout,
            "PARLEY_HEARTBEAT_INTERVAL": "500ms",
            "PARLEY_LOG_LEVEL": "info",
            # The backlog test stores 20,000 entries in one stream and waits for the paging
            # window of a client that never acks.
            "PARLEY_STREAM_MAX_ENTRIES": "100000",
            "PARLEY_STREAM_MAX_BYTES": "1073741824",  # so the entry count is the bound that applies
            "PARLEY_SYNC_ACK_TIMEOUT": "5s",
            # The group tests reach the member limit with a 100-member group plus a few.
            "PARLEY_MAX_GROUP_MEMBERS": "120",
            # Many tests send far more to silent peers than a message request allows, and the
            # backlog test far more than a minute's quota: the shared stack lifts those limits;
            # the abuse tests run a stack of their own with small ones (`env`).
            "PARLEY_MESSAGE_REQUEST_LIMIT": "0",
            # The crash tests put 200 sends and a few group changes in flight at once: over the
            # default burst (200) the last would be answered `rate_limited`, not `sent`.
            "PARLEY_SEND_BURST": "1000",
            "PARLEY_SEND_QUOTA_PER_MINUTE": "0",
            "PARLEY_SEND_QUOTA_PER_DAY": "0",
        })
        self.env.update(env or {})

    # -- processes ---------------------------------------------------------------------------

    def _command(self, name):
        port = str(self.ports[name])
        if name == "redis":
            return ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", str(self.state)]
        if name == "kafka":
            url = f"tcp://127.0.0.1:{port}"
            return [str(ROOT / ".parley/bin/tansu"), "broker", "--listener-url", url, "--advertised-listener-url", url,
                    "--storage-engine", "memory://tansu/"]
        if name.startswith("ws-edge-"):
            return [str(self.bin / "ws-edge"), "--edge-id", "edge-" + name[-1], "--http-port", port,
                    "--admin-port", str(self.admin_port(name)), "--web-root", str(ROOT / "web")]
        return [str(self.bin / name), "--admin-port", port]

    def admin_port(self, name):
        """The port of a service's /healthz, /readyz and /metrics."""
        return self.edge_admin_ports.get(name, self.ports[name])

    def _environment(self, name):
        """The environment of process `name` (every process shares one here)."""
        return self.env

    def start_process(self, name):
        log = open(self.state / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(self._command(name), stdout=log, stderr=subprocess.STDOUT,
                                            env=self._environment(name))
        log.close()

    def wait_ready(self, name, timeout=60):
        port = self.ports[name]
        if name in ("redis", "kafka"):
            def listening():
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            wait_until(listening, timeout, f"{name} listening")
        else:
            wait_until(lambda: http_ok(self.admin_port(name), "/readyz"), timeout, f"{name} ready")

    def start(self):
        for name in ("kafka",) if self.cluster else ("redis", "kafka"):
            self.start_process(name)
            self.wait_ready(name)
        services = ["presence-svc", "offline-svc", "relay-svc", "ws-edge-1", "ws-edge-2"]
        for name in services:
            self.start_process(name)
        for name in services:
            self.wait_ready(name)

    def kill(self, name):
        """SIGKILL: the process gets no chance to clean up (a crash)."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def terminate(self, name, timeout=20):
        """SIGTERM: graceful shutdown; returns the exit code."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=timeout)

    def restart(self, name):
        self.start_process(name)
        self.wait_ready(name)

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    # -- helpers -----------------------------------------------------------------------------

    def edge_url(self, n):
        return f"http://127.0.0.1:{self.ports[f'ws-edge-{n}']}"

    def login(self, edge, user):
        req = urllib.request.Request(f"{self.edge_url(edge)}/api/login", data=json.dumps({"user": user}).encode(),
                                     method="POST", headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["token"]

    def api(self, method, path, body=None, edge=1, key=True):
        """A server API request to an edge's admin port: (status, JSON answer)."""
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {self.api_key if key is True else key}"
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin_port(f'ws-edge-{edge}')}{path}", data=data,
                                     method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def redis(self, *args):
        """One redis-cli command (in cluster mode with -c, through the first node that answers);
        returns its output lines."""
        failure = None
        for port in self.redis_ports:
            cluster = ["-c"] if self.cluster else []
            out = subprocess.run(["redis-cli", *cluster, "-p", str(port), *self.redis_cli_auth, "--raw", *args],
                                 capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and not out.stdout.startswith("Could not connect"):
                return [line for line in out.stdout.splitlines() if line]
            failure = out
        raise subprocess.CalledProcessError(failure.returncode, failure.args, failure.stdout, failure.stderr)

    async def online(self, user, sessions, timeout=20):
        """Waits until presence-svc has `sessions` sessions of `user` in Redis."""
        await eventually(lambda: len(self.redis("HKEYS", f"presence:{{{user}}}")) == sessions, timeout,
                         f"{user} online with {sessions} sessions")

    def log(self, name):
        return (self.state / f"{name}.log").read_text(errors="replace")
