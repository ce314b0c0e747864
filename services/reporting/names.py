"""The Chinese names the pages and files show for the contract's codes (docs/contract.md
sections 3 and 8): a code without a name here is shown as it came."""

from __future__ import annotations

import re

CATEGORIES = {"basic": "基本支出", "project": "项目支出"}
FUNDING_SOURCES = {
    "appropriation": "财政拨款",
    "carryover": "上年结转",
    "special_account": "财政专户管理资金",
    "unit": "单位资金",
    "other": "其他资金",
}
# the classes of the government functional/economic classification (支出经济分类, 类级)
ECONOMIC_CLASSES = {
    "301": "工资福利支出",
    "302": "商品和服务支出",
    "303": "对个人和家庭的补助",
    "307": "债务利息及费用支出",
    "309": "资本性支出（基本建设）",
    "310": "资本性支出",
    "311": "对企业补助（基本建设）",
    "312": "对企业补助",
    "313": "对社会保障基金补助",
    "399": "其他支出",
}
CHANNELS = {
    "supervisor_patrol": "监督员巡查上报",
    "public_hotline": "公众举报投诉",
    "hotline_12345": "12345市长热线",
    "police_110": "110转接",
    "video": "视频监控发现",
    "media": "媒体曝光",
    "leadership": "领导交办",
    "wechat": "微信公众平台",
}
CASE_KINDS = {"event": "事件", "component": "部件"}
COMPARATORS = {">=": "≥", "<=": "≤", "=": "="}


def named(code: str | None, names: dict[str, str]) -> str:
    """A code as a page shows it: its name (with the code, where the code means something to
    the reader, as for economic classes) or the code itself."""
    if code is None:
        return "—"
    return names.get(code, code)


def economic_class(code: str) -> str:
    """'302' -> '302 商品和服务支出' (the code is how finance staff know the class)."""
    name = ECONOMIC_CLASSES.get(code)
    return code if name is None else f"{code} {name}"


# the event types of docs/contract.md section 3
EVENTS = {
    "DepartmentRegistered": "部门登记", "BudgetAuthorised": "预算批复",
    "BudgetAdjusted": "预算调整", "FundsArrived": "资金到位", "FundsTransferred": "资金下拨",
    "Disbursed": "支付", "DisbursementReversed": "支付冲销", "PerformanceTargetSet": "绩效目标设定",
    "OutputRecorded": "产出登记", "ProcurementPlanned": "采购计划", "ContractAwarded": "合同签订",
    "CaseReported": "案件上报", "CaseAccepted": "案件受理", "CaseFiled": "案件立案",
    "CaseDispatched": "案件派遣", "CaseDisposed": "案件处置", "CaseClosed": "案件结案",
}  # fmt: skip

# the metrics of docs/contract.md section 4, as Chinese reports name them
METRICS = {
    "initial_budget": "年初预算", "adjusted_budget": "调整后预算", "arrived": "资金到位",
    "transferred": "下拨", "spent": "支出", "balance": "结余", "sangong_budget": "三公预算",
    "sangong_spent": "三公支出", "planned": "采购计划", "contracted": "合同金额",
    "arrival_rate": "资金到位率", "execution_rate": "预算执行率",
    "spent_of_arrived_rate": "到位资金支出率", "sangong_control_rate": "三公经费控制率",
    "procurement_execution_rate": "政府采购执行率", "reported": "上报", "accepted": "受理",
    "filed": "立案", "dispatched": "派遣", "disposed": "处置", "closed": "结案",
    "closed_on_time": "按期结案", "due": "应结案", "open": "未结案", "due_closed": "应结已结",
    "overdue": "超期未结", "advance_disposals": "先行处置", "filing_rate": "立案率",
    "dispatch_rate": "派遣率", "disposal_rate": "处置率", "closure_rate": "结案率",
    "closure_rate_due": "应结案结案率", "on_time_rate": "按期结案率",
}  # fmt: skip


def snake(field: str) -> str:
    """closedOnTime -> closed_on_time: a GraphQL field's name as the contract names it."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", field).lower()


def camel(name: str) -> str:
    """closed_on_time -> closedOnTime, as GraphQL names the field."""
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)
