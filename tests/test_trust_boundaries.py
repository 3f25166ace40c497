"""What the platform trusts of its surroundings and checks instead (issue 19): the ports `mesh up`
serves on are its own servers', a service already running is reported, not waited for, and a port
catalog row whose metadata cannot be read is a warning at load, not a location that fails."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from unittest import mock

import pyarrow as pa
import pytest

from platform_lib.definitions import domain_definitions
from platform_lib.deploy import object_store
from platform_lib.deploy.processes import Service, Supervisor, http_answers
from tests.conftest import mesh_env
from tests.support.free_ports import free_port
from tests.support.processes import REPO, other_server
from tests.support.seaweed import free_ports


def test_a_published_port_whose_metadata_is_missing_is_a_load_warning_naming_it(tmp_path, caplog):
    from pyiceberg.catalog.sql import SqlCatalog

    warehouse = tmp_path / "ports" / "warehouse"
    warehouse.mkdir(parents=True)
    catalog = SqlCatalog("mesh", uri=f"sqlite:///{tmp_path / 'ports' / 'catalog.db'}", warehouse=warehouse.as_uri())
    catalog.create_namespace("sales")
    catalog.create_table("sales.orders_v1", pa.schema([("o_orderkey", pa.int64())])).append(pa.table({"o_orderkey": [1]}))
    # The catalog still lists the version; its metadata went with a store that is not this one.
    shutil.rmtree(warehouse / "sales" / "orders_v1" / "metadata")
    env = {**mesh_env(tmp_path), "MESH_PORT_CATALOG": catalog.properties["uri"], "MESH_PORT_WAREHOUSE": warehouse.as_uri()}
    with mock.patch.dict(os.environ, env, clear=True), caplog.at_level(logging.WARNING, "mesh.governance"):
        defs = domain_definitions(REPO / "domains" / "finance" / "definitions.py")
    assert defs.resolve_asset_graph().get_all_asset_keys()
    # One per product of finance that reads the port.
    warnings = [r.getMessage() for r in caplog.records if "urn:mesh:contract:sales:orders v1" in r.getMessage()]
    assert warnings and all("catalog lists sales.orders_v1, but its metadata" in w and "cannot be read (No such file or directory)" in w
                            for w in warnings), caplog.text


def web(port: int) -> Service:
    """A service of ours that serves HTTP on `port`."""
    return Service("web", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], http_answers(f"http://127.0.0.1:{port}/"))


@pytest.fixture
def supervisor(tmp_path) -> Iterator[Supervisor]:
    supervisor = Supervisor(tmp_path)
    yield supervisor
    for name in supervisor.running():
        supervisor.stop(name, grace=2)


def test_a_port_taken_by_another_server_is_refused_before_starting_naming_it(supervisor):
    port = free_port()
    with other_server(port) as other, pytest.raises(RuntimeError) as refused:
        supervisor.start(web(port), timeout=10)
    message = str(refused.value)
    assert f"port {port}" in message and f"pid {other.pid}" in message and "http.server" in message, message
    assert "SimpleHTTP" in message, message  # what it answers as, its HTTP Server header
    assert supervisor.running() == [], "started although its port was taken"


def test_an_answer_from_another_process_does_not_make_a_service_ready(supervisor):
    port = free_port()
    others = []
    with ExitStack() as stack:
        # Taken between the check and the start: our server cannot bind, the other one answers.
        service = dataclasses.replace(web(port), before_start=lambda: others.append(stack.enter_context(other_server(port))))
        with pytest.raises(RuntimeError) as refused:
            supervisor.start(service, timeout=10)
        assert f"port {port} is taken by pid {others[0].pid}" in str(refused.value), refused.value


def test_a_running_service_is_reported_not_waited_for(supervisor):
    # Ready at the line it writes once started: a second start must not wait for it again.
    service = Service("worker", [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"], "started")
    pid = supervisor.start(service, timeout=10)
    assert supervisor.start(service, timeout=5) == pid


def test_a_pid_file_naming_another_process_is_not_taken_for_the_service(supervisor, tmp_path):
    port = free_port()
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "web.pid").write_text(str(other.pid))  # a pid reused since our server died
        pid = supervisor.start(web(port), timeout=20)
        assert pid != other.pid and other.poll() is None
    finally:
        os.killpg(other.pid, signal.SIGKILL)
        other.wait()


def test_seaweedfs_is_refused_when_one_of_its_internal_ports_is_taken(supervisor, tmp_path):
    ports = dict(zip(object_store.PORTS, free_ports(len(object_store.PORTS))))
    (tmp_path / "s3.json").write_text('{"identities": []}')
    with other_server(ports["filer.port.grpc"]), pytest.raises(RuntimeError) as refused:
        supervisor.start(object_store.seaweedfs(tmp_path / "s3", tmp_path / "s3.json", ports), timeout=30)
    assert f"port {ports['filer.port.grpc']}" in str(refused.value), refused.value
    assert supervisor.running() == []
