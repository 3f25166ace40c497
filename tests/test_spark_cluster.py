"""The Spark cluster a Spark domain runs on (issue 20): a master and two workers, each its own JVM,
started and stopped as the deployment's other servers are; an application on it gets executors on
both workers, as the master's own JSON status says."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys

from platform_lib.deploy.processes import Supervisor
from platform_lib.deploy.spark_cluster import services, start

# An application of its own process (as a run's would be), which reports the master's status while it runs.
APPLICATION = """
import json, sys, urllib.request
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master(sys.argv[1]).appName("mesh-cluster-test").config("spark.executor.cores", "1")
         .config("spark.executor.memory", "512m").config("spark.driver.host", "127.0.0.1").getOrCreate())
# As many tasks as cores: the job needs both executors.
total = spark.range(0, 1_000_000, numPartitions=2).selectExpr("sum(id)").collect()[0][0]
status = json.loads(urllib.request.urlopen(sys.argv[2] + "/json").read())
print(json.dumps({"total": total, "status": status}))
spark.stop()
"""


def test_an_application_gets_executors_on_both_workers(spark):
    proc = subprocess.Popen([sys.executable, "-c", APPLICATION, spark.master_url, spark.ui_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the driver's JVM with it
    assert proc.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["total"] == 499_999_500_000
    (app,) = [a for a in report["status"]["activeapps"] if a["name"] == "mesh-cluster-test"]
    assert app["cores"] == 2
    assert [w["coresused"] for w in report["status"]["workers"]] == [1, 1], report["status"]["workers"]


def test_starting_the_cluster_again_finds_it_running(spark):
    """`mesh up` again starts only what is not running: spark-class execs java, and the running JVM
    is still known as the service it started (else the second start fails on its own port)."""
    supervisor = Supervisor(spark.folder)
    before = {service.name: supervisor.pid_of(service) for service in services(spark)}
    assert None not in before.values(), before
    start(spark, supervisor)
    assert {service.name: supervisor.pid_of(service) for service in services(spark)} == before
