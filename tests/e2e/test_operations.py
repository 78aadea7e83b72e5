"""What an operator sees of every process: its version and effective settings in the first log
line (secrets redacted), and `parley_build_info` on `/metrics`."""

import re
import urllib.request

PROCESSES = ["relay-svc", "presence-svc", "offline-svc", "ws-edge-1", "ws-edge-2"]


def test_every_process_logs_its_settings_without_secrets_and_exports_its_version(stack):
    secret = stack.env["PARLEY_JWT_SECRET"]
    for name in PROCESSES:
        log = stack.log(name)
        starting = next((line for line in log.splitlines() if "starting" in line and "parley.version=" in line), None)
        assert starting, f"{name}: no starting line in its log"
        version = re.search(r"parley\.version=(\S+)", starting).group(1)
        assert "parley.settings=" in starting and "kafka-brokers=127.0.0.1:" in starting, starting
        assert secret not in log, f"{name}: the JWT secret is in its log"
        if name.startswith("ws-edge"):
            assert "jwt-secret=<redacted>" in starting, starting
        with urllib.request.urlopen(f"http://127.0.0.1:{stack.admin_port(name)}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        service = "ws-edge" if name.startswith("ws-edge") else name
        info = [line for line in metrics.splitlines() if line.startswith("parley_build_info{")]
        assert info and f'service="{service}"' in info[0] and f'version="{version}"' in info[0] and float(info[0].rsplit(" ", 1)[1]) == 1, info
