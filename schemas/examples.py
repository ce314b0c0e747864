"""One example of each event type (``data`` only; the envelope is shared), for the JSON
Schema files and the AsyncAPI document. A test checks that each validates."""

from __future__ import annotations

from typing import Any

from schemas.versions import VERSIONS

ENVELOPE: dict[str, Any] = {
    "schema_version": 1,
    "occurred_at": "2017-08-31T16:00:00+08:00",
    "department": "GD-CGJ",
    "fiscal_year": 2017,
    "source": "finance",
}

DATA: dict[str, dict[str, Any]] = {
    "DepartmentRegistered": {
        "name": "官渡区城市管理综合行政执法局",
        "headcount_authorised": 13,
        "headcount_actual": 13,
    },
    "BudgetAuthorised": {
        "line_id": "GD-CGJ-2017-ZHGD",
        "title": "智慧官渡—网格化运行",
        "category": "project",
        "amount": "36890100.00",
        "procurement_amount": "5000000.00",
    },
    "BudgetAdjusted": {"line_id": "GD-CGJ-2017-ZHGD", "amount": "-1200000.00", "reason": "调减"},
    "FundsArrived": {"line_id": "GD-CGJ-2017-ZHGD", "amount": "26942600.00"},
    "FundsTransferred": {
        "line_id": "GD-CGJ-2017-ZHGD",
        "to_department": "GD-SGB",
        "amount": "1500000.00",
    },
    "Disbursed": {
        "line_id": "GD-CGJ-2017-ZHGD",
        "amount": {"value": "120000.00", "currency": "CNY"},
        "economic_class": "302",
        "economic_item": "27",
        "spending_department": "GD-SGB",
        "purpose": "网格监督员劳务费",
    },
    "DisbursedV1": {
        "line_id": "GD-CGJ-2017-ZHGD",
        "amount": "120000.00",
        "economic_class": "30227",
        "spending_department": "GD-SGB",
        "purpose": "网格监督员劳务费",
    },
    "DisbursementReversed": {"reverses": "gd2017-pay-0815", "reason": "收款人有误"},
    "PerformanceTargetSet": {
        "target_id": "T-closure",
        "level1": "产出指标",
        "level2": "质量指标",
        "name": "结案率",
        "metric": "closure_rate",
        "comparator": ">=",
        "value": "0.95",
        "unit": "%",
        "weight": 10,
    },
    "OutputRecorded": {"indicator": "门前三包责任书", "quantity": "3200", "unit": "份"},
    "ProcurementPlanned": {
        "procurement_id": "P-2017-01",
        "line_id": "GD-CGJ-2017-ZHGD",
        "amount": "800000.00",
        "method": "open_tender",
    },
    "ContractAwarded": {
        "procurement_id": "P-2017-01",
        "contract_id": "K-2017-01",
        "supplier": "云南某科技有限公司",
        "amount": "760000.00",
    },
    "CaseReported": {
        "case_id": "C-2017-000123",
        "channel": "supervisor_patrol",
        "category": "占道经营",
        "kind": "event",
        "grid": "关上-03",
    },
    "CaseAccepted": {"case_id": "C-2017-000123"},
    "CaseFiled": {"case_id": "C-2017-000123", "deadline_at": "2017-09-02T18:00:00+08:00"},
    "CaseDispatched": {"case_id": "C-2017-000123", "assignee": "GD-JD-GUANSHANG"},
    "CaseDisposed": {"case_id": "C-2017-000123"},
    "CaseClosed": {"case_id": "C-2017-000123"},
    "AssessmentSchemeSet": {
        "effective_month": 1,
        "indicators": [
            {"metric": "on_time_rate", "name": "按期结案率", "weight": 50},
            {"metric": "closure_rate_due", "name": "结案率", "weight": 50},
        ],
        "document": "官渡区城市综合管理考核办法",
    },
    "DeviationExplained": {
        "target_id": "T-EXECUTION",
        "text": "项目资金于8月下旬到位，支付进度滞后，已督促加快执行",
        "author": "evaluator-zhang",
    },
    "GoalStated": {
        "line_id": "GD-CGJ-2017-ZHGD",
        "expected": "保障网格化监督指挥中心全年正常运行",
        "actual": "全年受理案件452,034件，结案率96.73%",
        "author": "evaluator-zhang",
    },
    "EvaluationSigned": {
        "as_of": "2017-08-31",
        "signer": "evaluator-zhang",
        "figures": {"arrival_rate": "0.7303", "execution_rate": "0.1059", "spent": "3907946.12"},
        "digest": "fe7fc1f15edb98f68bb0865a8cde58e38a932c72dcc52c944085f904c9fcb7e5",
    },
}


def example(name: str) -> dict[str, Any]:
    """A complete example event of this model (an event type, or its version: DisbursedV1)."""
    event_type = name.removesuffix("V1")
    return {
        "event_id": f"example-{name}",
        "event_type": event_type,
        **ENVELOPE,
        "schema_version": max(VERSIONS.get(name, (1,))),  # the current one; DisbursedV1: 1
        "data": DATA[name],
    }
