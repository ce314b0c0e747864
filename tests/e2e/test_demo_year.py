"""The whole product as a user runs it: `python -m deploy.stack` (what `make run` starts)
publishes the seed report's 2017 through Kafka; the report's own figures come back
through GraphQL over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.infra import REPO, free_port
from tests.helpers import graphql

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("stack")
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }  # the embedded defaults
    env.update(
        DATA_DIR=str(data_dir),
        GRAPHQL_PORT=str(port),
        EMBEDDED_KAFKA_PORT=str(free_port()),
        COLUMNS="200",
    )
    out = (data_dir / "stack.out").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.stack"],
        cwd=REPO,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + 1500
    try:
        while url not in Path(out.name).read_text():
            assert process.poll() is None, Path(out.name).read_text()
            assert time.monotonic() < deadline, "the demo year was not projected in time"
            time.sleep(1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(60) == 0
        assert "stopped" in Path(out.name).read_text()


QUERY = """
{
  project: lineEvaluation(lineId: "GD-CGJ-2017-ZHGD", asOf: "2017-08-31") {
    adjustedBudget arrived transferred spent arrivalRate executionRate spentOfArrivedRate
  }
  centre: departmentEvaluation(department: "GD-GRID", fiscalYear: 2017) {
    budget { executionRate byCategory { category spent share } }
    cases { accepted closed closureRate byChannel { channel accepted closed closureRate } }
  }
}
"""


async def test_the_seed_reports_figures(stack: str) -> None:
    data = await graphql(stack, QUERY)
    project = data["project"]
    # "项目申报预算资金3689.01万元"; "收到...额度26942600.00元, 资金到位率73.03%"
    assert project["adjustedBudget"] == "36890100.00"
    assert project["arrived"] == "26942600.00"
    assert project["arrivalRate"] == "0.7303"
    # "下拨官渡区数字化城市管理办公室9297200.00元、下拨官渡区综合行政执法大队17645400.00元"
    assert project["transferred"] == "26942600.00"
    # "实际发生总支出3907946.12元 ... 占预算36890100.00元的10.59%, 占已下达额度...的14.50%"
    assert project["spent"] == "3907946.12"
    assert project["executionRate"] == "0.1059"
    assert project["spentOfArrivedRate"] == "0.1450"

    centre = data["centre"]
    # "基本支出数为128.93万元, 占总支出的30.51%"; "项目支出数为293.67万元, 占总支出的69.49%"
    assert {c["category"]: (c["spent"], c["share"]) for c in centre["budget"]["byCategory"]} == {
        "basic": ("1289300.00", "0.3051"),
        "project": ("2936700.00", "0.6949"),
    }
    # "支出预算执行率100%"
    assert centre["budget"]["executionRate"] == "1.0000"
    # "共受理...投诉452034件, 处理结案437273件, 结案率为96.73%"
    cases = centre["cases"]
    assert (cases["accepted"], cases["closed"], cases["closureRate"]) == (452034, 437273, "0.9673")
    # "通过12319和67169110公众投诉渠道受理...5475件, 结案5475件, 结案率100%"
    public = next(c for c in cases["byChannel"] if c["channel"] == "public_hotline")
    assert (public["accepted"], public["closed"], public["closureRate"]) == (5475, 5475, "1.0000")


async def test_as_of_a_date_before_the_money_arrived(stack: str) -> None:
    data = await graphql(
        stack,
        """{ lineEvaluation(lineId: "GD-CGJ-2017-ZHGD", asOf: "2017-05-11") {
               arrived arrivalRate spent executionRate spentOfArrivedRate } }""",
    )
    assert data["lineEvaluation"] == {
        "arrived": "8000000.00",
        "arrivalRate": "0.2169",
        "spent": "0.00",
        "executionRate": "0.0000",
        "spentOfArrivedRate": "0.0000",
    }
