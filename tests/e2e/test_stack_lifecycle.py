"""The launcher as an operator meets it: any of SIGTERM (a process manager, `timeout`,
`docker stop`), SIGHUP (the terminal closed) or SIGINT (Ctrl-C) stops the whole stack and
leaves no process behind; a port already taken stops it before anything starts."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import psutil
import pytest

from deploy.infra import free_port
from tests.e2e.launcher import READY, launch

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for the module's stacks: the embedded PostgreSQL is created once."""
    return tmp_path_factory.mktemp("stack")


def servers_of(data_dir: Path) -> list[psutil.Process]:
    """The embedded PostgreSQL's processes (the server detaches from the launcher)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if str(data_dir) in " ".join(process.info["cmdline"] or ()):
            found.append(process)
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=str)
def test_a_signal_stops_every_process_of_the_stack(data_dir: Path, sig: signal.Signals) -> None:
    launched = launch(data_dir, DEMO="0")
    launched.wait_for(READY, timeout=300)
    family = psutil.Process(launched.process.pid).children(recursive=True)
    services = {" ".join(p.cmdline()[-2:]) for p in family if "services." in " ".join(p.cmdline())}
    assert services == {f"-m services.{s}" for s in ("ledger", "performance", "reporting")}
    assert any("tansu" in p.name() for p in family)
    postgres = servers_of(data_dir)
    assert postgres  # the embedded server, which the launcher stops at exit

    assert launched.stop(sig) == 0
    assert "stopped" in launched.printed()
    _, alive = psutil.wait_procs(family + postgres, timeout=30)
    assert not alive, alive
    assert not servers_of(data_dir)


def test_a_taken_port_is_refused_before_anything_starts(data_dir: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port := free_port()))
        holder.listen()
        launched = launch(data_dir, GRAPHQL_PORT=str(port))
        assert launched.process.wait(60) == 1
    printed = launched.printed()
    assert f"port in use: {port} (GRAPHQL_PORT)" in printed, printed
    assert "Traceback" not in printed
    assert not servers_of(data_dir)  # it did not even start PostgreSQL
