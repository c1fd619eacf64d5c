"""A Docker engine and the images the container tests need, on a machine that cannot pull.

- ``engine()``: the engine answers, or it is started (``dockerd``, as root) and waited for.
- ``stand_in_images()``: local stand-ins for the official base images docker-compose.yml names
  by default (Python, PostgreSQL, Caddy), built from a Debian bookworm rootfs (``debootstrap``
  from the Debian mirror, ``docker import``) with the small Dockerfiles under ``imagens/``. They
  are tagged ``licitacao-teste/...:<hash of what they are built from>`` — never with an official
  name — and built only when that tag is missing: the engine's image store is the cache.

A machine without Docker skips these tests with the reason; CI (``LICITACAO_E2E_REQUIRED=1``)
fails them instead (``topologia.missing``)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from . import topologia

IMAGENS = Path(__file__).resolve().parent / "imagens"
BASE = "licitacao-teste/bookworm:base"
MIRROR = "http://deb.debian.org/debian"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")  # the host's trust, for pip in builds
# Processes of the engine (and the containers under it): never this session's strays.
_ENGINE_NAMES = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2")


def docker() -> str:
    path = shutil.which("docker")
    if not path:
        topologia.missing("the docker CLI is not installed (apt-get install docker.io)")
    return path


def run(*args: str, timeout: float = 600, check: bool = True, **kwargs):
    proc = subprocess.run(
        [docker(), *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} failed:\n{proc.stderr[-3000:]}")
    return proc


def _answers() -> bool:
    try:
        return (
            run("info", "--format", "{{.ServerVersion}}", timeout=20, check=False).returncode == 0
        )
    except subprocess.TimeoutExpired:
        return False


def engine() -> None:
    """The engine answers, started here if need be (it is left running, like a system
    service: the next session finds it)."""
    docker()
    if _answers():
        return
    dockerd = shutil.which("dockerd")
    if not dockerd or os.geteuid() != 0:
        topologia.missing("the Docker engine does not answer and cannot be started here")
    log = open("/tmp/dockerd.log", "ab")  # noqa: SIM115 (the engine outlives this process)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICITACAO_TEST")}
    subprocess.Popen(
        [dockerd],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not _answers():
        if time.monotonic() > deadline:
            topologia.missing("dockerd did not answer within 60 s (/tmp/dockerd.log)")
        time.sleep(1)


def engine_process(proc: psutil.Process) -> bool:
    """Whether ``proc`` is the engine, or runs under it (a container's process)."""
    try:
        for p in (proc, *proc.parents()):
            if p.name().startswith(_ENGINE_NAMES):
                return True
    except psutil.Error:
        return False
    return False


def image_exists(tag: str) -> bool:
    return run("image", "inspect", tag, check=False, timeout=30).returncode == 0


def _base() -> str:
    """Debian bookworm (minbase) as an image, from the Debian mirror."""
    if image_exists(BASE):
        return BASE
    debootstrap = shutil.which("debootstrap")
    if not debootstrap:
        topologia.missing("debootstrap is not installed (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="licitacao-rootfs-") as root:
        subprocess.run(
            [
                debootstrap,
                "--variant=minbase",
                "--include=ca-certificates",
                "bookworm",
                root,
                MIRROR,
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        run("import", "-", BASE, stdin=tar.stdout, timeout=600)
        tar.wait(60)
    return BASE


def _context_hash(directory: Path, *extra: bytes) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(directory).as_posix().encode())
            digest.update(path.read_bytes())
    for blob in extra:
        digest.update(blob)
    return digest.hexdigest()[:12]


def _stand_in(name: str, base: str) -> str:
    """``licitacao-teste/<name>:<hash>``, built from ``imagens/<name>`` when missing."""
    ca = HOST_CA.read_bytes() if HOST_CA.is_file() else b""
    tag = f"licitacao-teste/{name}:{_context_hash(IMAGENS / name, base.encode(), ca)}"
    if image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix=f"licitacao-{name}-") as context:
        shutil.copytree(IMAGENS / name, context, dirs_exist_ok=True)
        (Path(context) / "host-ca.crt").write_bytes(ca)
        run("build", "-q", "--build-arg", f"BASE={base}", "-t", tag, context, timeout=900)
    return tag


def stand_in_images() -> dict[str, str]:
    """The variables docker-compose.yml reads for its base images, naming the stand-ins."""
    base = _base()
    return {
        "LICITACAO_PYTHON_IMAGE": _stand_in("python", base),
        "LICITACAO_POSTGRES_IMAGE": _stand_in("postgres", base),
        "LICITACAO_CADDY_IMAGE": _stand_in("caddy", base),
    }
