"""Fixtures for the real-browser tests of the web client (headless Chromium + chromedriver).

test_client_logic.py needs only web/ served as static files (`static_site`). The chat tests use
the session's stack (tests/conftest.py starts one), unless these point at another:
  PARLEY_E2E_EDGE1_URL, PARLEY_E2E_EDGE2_URL  e.g. http://127.0.0.1:18080
  PARLEY_E2E_ARTIFACTS                         default <repo>/test-artifacts
Optional: PARLEY_E2E_CHROMIUM (/usr/bin/chromium), PARLEY_E2E_CHROMEDRIVER (/usr/bin/chromedriver),
          PARLEY_E2E_BROWSER_TIMEOUT (seconds per wait, default 45).
"""

import functools
import http.server
import json
import os
import pathlib
import shutil
import tempfile
import threading

import pytest

os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]


def _edge(request, name, number):
    """The edge's URL: from the environment (a stack started elsewhere) or the session stack."""
    url = os.environ.get(name)
    if url:
        return url.rstrip("/")
    return request.getfixturevalue("stack").edge_url(number)


@pytest.fixture(scope="session")
def edge1_url(request):
    return _edge(request, "PARLEY_E2E_EDGE1_URL", 1)


@pytest.fixture(scope="session")
def edge2_url(request):
    return _edge(request, "PARLEY_E2E_EDGE2_URL", 2)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def static_site():
    """web/ over plain HTTP on a free loopback port (no Parley server behind it)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietFiles, directory=str(REPO / "web")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def static_browser(static_site, artifacts):
    """One browser for a module, on the client's index page served by `static_site`."""
    factory = BrowserFactory(artifacts)
    driver = factory.new("static")
    driver.get(static_site + "/index.html")
    yield driver
    factory.close("static")
    factory.remove_profiles()


@pytest.fixture(scope="session")
def artifacts():
    path = pathlib.Path(os.environ.get("PARLEY_E2E_ARTIFACTS", REPO / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


class BrowserFactory:
    """Starts headless Chromium sessions, each with its own fresh profile."""

    def __init__(self, artifacts):
        self.artifacts = artifacts
        self.drivers = {}  # label -> driver (live ones)
        self.profiles = []

    def new(self, label, width=1200, height=800):
        profile = tempfile.mkdtemp(prefix=f"parley-chrome-{label}-")
        self.profiles.append(profile)
        opts = webdriver.ChromeOptions()
        opts.binary_location = os.environ.get("PARLEY_E2E_CHROMIUM", "/usr/bin/chromium")
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    f"--window-size={width},{height}", f"--user-data-dir={profile}",
                    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--lang=en-US"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        opts.set_capability("unhandledPromptBehavior", "ignore")
        service = Service(os.environ.get("PARLEY_E2E_CHROMEDRIVER", "/usr/bin/chromedriver"))
        driver = webdriver.Chrome(options=opts, service=service)
        driver.set_window_size(width, height)
        self.drivers[label] = driver
        return driver

    def close(self, label):
        driver = self.drivers.pop(label)
        self.save_console(label, driver)
        driver.quit()

    def save_console(self, label, driver):
        try:
            logs = driver.get_log("browser")
        except Exception:  # noqa: BLE001 - best effort diagnostics
            return
        with open(self.artifacts / f"console-{label}.log", "a", encoding="utf-8") as f:
            for entry in logs:
                f.write(json.dumps(entry) + "\n")

    def remove_profiles(self):
        for profile in self.profiles:
            shutil.rmtree(profile, ignore_errors=True)

    def save_failure(self, label, driver):
        try:
            driver.save_screenshot(str(self.artifacts / f"failure-{label}.png"))
            (self.artifacts / f"failure-{label}.html").write_text(driver.page_source, encoding="utf-8")
        except Exception:  # noqa: BLE001 - best effort diagnostics
            pass


@pytest.fixture
def browsers(request, artifacts):
    factory = BrowserFactory(artifacts)
    yield factory
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for label, driver in list(factory.drivers.items()):
        if failed:
            factory.save_failure(label, driver)
        factory.save_console(label, driver)
        try:
            driver.quit()
        except Exception:  # noqa: BLE001
            pass
    factory.remove_profiles()
