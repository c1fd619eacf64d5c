"""The production topology's parts that are not Dagster: the Caddy reverse proxy with basic auth
(licitacao_pipeline/deploy/Caddyfile, as docker-compose.yml runs it) and the browser.

Both need a Debian binary (``caddy``, ``chromium``). A developer machine without them skips the
tests that need them; CI sets ``LICITACAO_E2E_REQUIRED=1`` (``.ci/run`` installs both), and
then a missing binary fails those tests instead."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

REQUIRED_VAR = "LICITACAO_E2E_REQUIRED"
CADDYFILE = Path(__file__).resolve().parent.parent / "licitacao_pipeline" / "deploy" / "Caddyfile"
USUARIO = "operador"
SENHA = "s3nha-de-teste"  # only for these tests' throwaway proxies
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def required() -> bool:
    return os.environ.get(REQUIRED_VAR, "") not in ("", "0")


def missing(what: str) -> None:
    """Fail in CI (``LICITACAO_E2E_REQUIRED``), skip elsewhere."""
    message = f"{what} (.ci/run installs what these tests need)"
    if required():
        pytest.fail(f"{REQUIRED_VAR} is set but {message}", pytrace=False)
    pytest.skip(message)


def binary(name: str) -> str | None:
    return shutil.which(name)


def caddy_or_missing() -> str:
    path = binary("caddy")
    if not path:
        missing("the caddy binary is not installed")
    return path


def chromium_or_missing() -> str:
    path = binary("chromium")
    if not path:
        missing("the chromium binary is not installed")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("the playwright package is not installed (pip install -e '.[dev]')")
    return path


def hash_password(caddy: str, senha: str) -> str:
    out = subprocess.run(
        [caddy, "hash-password", "--plaintext", senha],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip()


def caddy_env(home: Path, port: int, upstream: str, hash_: str | None, usuario: str | None):
    """The environment docker-compose.yml gives the proxy, for a local ``caddy``."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),  # caddy's autosave.json
        "XDG_DATA_HOME": str(home / "data"),  # certificates (none: plain HTTP)
        "LICITACAO_PROXY_SITE": f":{port}",
        "DAGSTER_WEBSERVER_UPSTREAM": upstream,
    }
    for key, value in (("LICITACAO_UI_USUARIO", usuario), ("LICITACAO_UI_SENHA_HASH", hash_)):
        if value is not None:
            env[key] = value
    for key in ("LICITACAO_TEST_SESSAO", "LICITACAO_TEST_DEPLOYMENT"):  # process marks
        if key in os.environ:
            env[key] = os.environ[key]
    return env


class Proxy:
    """``caddy run`` with the project's Caddyfile in front of ``upstream`` (host:port)."""

    def __init__(self, home: Path, port: int, upstream: str, extra_env: dict | None = None):
        self.caddy = caddy_or_missing()
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.usuario, self.senha = USUARIO, SENHA
        self.log_path = home / "proxy.log"
        env = caddy_env(home, port, upstream, hash_password(self.caddy, SENHA), USUARIO)
        env.update(extra_env or {})
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [self.caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise AssertionError(f"caddy did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/_proxy/saude", timeout=2).text == "ok"
        except requests.ConnectionError:
            return False

    @property
    def auth(self) -> tuple[str, str]:
        return (self.usuario, self.senha)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


def skip_welcome_dialog(page, wait_s: float = 15) -> None:
    """Dagster's newsletter dialog opens on a first visit, seconds after the page on a loaded
    machine: wait for it a while after the page loads and dismiss it; should it come later
    still, dismiss it whenever it shows up before an action it would block."""
    skip = page.get_by_role("button", name="Skip")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # it did not come
        skip.click(timeout=wait_s * 1000)
    page.add_locator_handler(skip, lambda button: button.click(), no_wait_after=True)
