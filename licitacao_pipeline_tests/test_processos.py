"""The stray-process check finds what a session left running, orphans included, and stops it."""

import subprocess
import sys
import time

import psutil

from .processos import Sessao, carrying

# A child that starts a grandchild in its own session and exits at once: the grandchild is
# re-parented (to the session, a subreaper on Linux; else to init), as a `dagster api grpc`
# server whose daemon died or a PostgreSQL server that pg_ctl daemonized.
ORPHAN = """
import subprocess, sys
p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                     start_new_session=True, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
print(p.pid, flush=True)
"""


def test_a_session_reports_and_stops_children_and_orphans_it_left_running():
    sessao = Sessao(excluded=lambda proc: False, every=0.1)
    try:
        sessao.where = "test_processos"
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        out = subprocess.run(
            [sys.executable, "-c", ORPHAN], capture_output=True, text=True, timeout=60
        )
        orphan = psutil.Process(int(out.stdout.split()[0]))
        assert orphan.ppid() in (1, psutil.Process().pid)  # adopted: by init, or by us
        bare = subprocess.run(  # no mark in its environment: found as an adopted descendant
            [sys.executable, "-c", ORPHAN], capture_output=True, text=True, timeout=60, env={}
        )
        unmarked = psutil.Process(int(bare.stdout.split()[0]))
        finished = subprocess.Popen([sys.executable, "-c", "pass"])
        finished.wait(30)
        time.sleep(0.3)  # let the sampler see them
    finally:
        report = sessao.close(grace=1.0)
    child.wait(10)
    assert len(report) == 3, report
    for proc in (child, orphan, unmarked):
        assert any(f"pid {proc.pid} " in line for line in report), (proc.pid, report)
    assert all("first seen during test_processos" in line for line in report)
    for proc in (orphan, unmarked):
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    assert child.returncode is not None


def test_a_clean_session_reports_nothing_and_excluded_processes_are_left_alone():
    keeper = None
    sessao = Sessao(excluded=lambda proc: keeper is not None and proc.pid == keeper.pid, every=0.1)
    try:
        keeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        done = subprocess.Popen([sys.executable, "-c", "pass"])
        done.wait(30)
        assert [p.pid for p in carrying("LICITACAO_TEST_SESSAO", sessao.mark)] == [keeper.pid]
        assert sessao.close(grace=0.5) == []
        assert keeper.poll() is None  # excluded: not stopped
    finally:
        keeper.kill()
        keeper.wait(10)


def test_a_process_older_than_the_session_is_not_the_sessions():
    """A descendant that already ran when the session opened (the shared test server that an
    earlier test of this worker started) is neither reported nor stopped."""
    older = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        time.sleep(0.5)
        sessao = Sessao(excluded=lambda proc: False, every=0.1)
        time.sleep(0.3)  # the sampler sees it
        assert sessao.close(grace=0.5) == []
        assert older.poll() is None  # still running
    finally:
        older.kill()
        older.wait(10)
