"""The event contract (docs/contract.md sections 2 and 3) as pydantic v2 models.

These models are the single source of truth: the ledger validates inbound bytes
with them, the JSON Schema files in ``schemas/json`` are generated from them, and
the AsyncAPI document of the ledger service describes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.money import (
    DECIMAL_PATTERN,
    DecimalString,
    NonNegativeMoney,
    NonZeroMoney,
    PositiveMoney,
    Weight,
)

DepartmentCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Budget unit code (部门/单位): 1-64 of A-Z a-z 0-9 . _ -",
        examples=["GD-GRID"],
    ),
]
Identifier = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._:/-]{1,128}$",
        description="Identifier: 1-128 of A-Z a-z 0-9 . _ : / -",
    ),
]
Text = Annotated[str, Field(min_length=1, max_length=500)]
ShortText = Annotated[str, Field(min_length=1, max_length=64)]
# Where the money of a line comes from (资金来源); an event without it means appropriation.
FundingSource = Literal["appropriation", "carryover", "special_account", "unit", "other"]
FUNDING_SOURCES: tuple[str, ...] = get_args(FundingSource)
DEFAULT_FUNDING_SOURCE: FundingSource = "appropriation"
_FUNDING_SOURCE = (
    "appropriation 财政拨款 (default) | carryover 上年结转 | special_account 财政专户管理资金 "
    "| unit 单位资金 | other 其他资金"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- data payloads ---------------------------------------------------------------------------


class DepartmentRegisteredData(_Strict):
    name: Text = Field(
        description="Department name", examples=["昆明市网格化监督指挥中心官渡分中心"]
    )
    parent: DepartmentCode | None = Field(None, description="Code of the supervising department")
    headcount_authorised: int | None = Field(None, ge=0, description="编制数")
    headcount_actual: int | None = Field(None, ge=0, description="实有人数")


class BudgetAuthorisedData(_Strict):
    line_id: Identifier = Field(description="Budget line, unique across departments")
    title: Text
    category: Literal["basic", "project"] = Field(description="basic 基本支出 | project 项目支出")
    funding_source: FundingSource = Field(DEFAULT_FUNDING_SOURCE, description=_FUNDING_SOURCE)
    amount: PositiveMoney
    procurement_amount: NonNegativeMoney | None = Field(
        None, description="Of the amount, what is to be procured (政府采购); <= amount"
    )
    sangong: Literal["reception", "vehicles", "overseas_travel"] | None = Field(
        None, description='The line is a "三公" budget of this kind'
    )
    document: Text | None = Field(None, description="Authorising document number")

    @model_validator(mode="after")
    def _procurement_within_amount(self) -> BudgetAuthorisedData:
        if self.procurement_amount is not None and self.procurement_amount > self.amount:
            raise PydanticCustomError(
                "procurement_exceeds_amount", "procurement_amount must be <= amount"
            )
        return self


class BudgetAdjustedData(_Strict):
    line_id: Identifier
    amount: NonZeroMoney = Field(description="Signed: 追加 > 0, 调减 < 0")
    reason: Text
    document: Text | None = None
    funding_source: FundingSource = Field(
        DEFAULT_FUNDING_SOURCE, description="The source whose budget changes: " + _FUNDING_SOURCE
    )


class FundsArrivedData(_Strict):
    line_id: Identifier
    amount: PositiveMoney
    funding_source: FundingSource = Field(
        DEFAULT_FUNDING_SOURCE, description="The source that arrived: " + _FUNDING_SOURCE
    )


class FundsTransferredData(_Strict):
    line_id: Identifier
    to_department: DepartmentCode = Field(description="Subordinate unit receiving the funds (下拨)")
    amount: PositiveMoney


class Amount(_Strict):
    """Money with its currency."""

    value: PositiveMoney
    currency: Literal["CNY"] = Field(description="ISO 4217; the ledger keeps yuan (CNY) only")


class PaymentData(_Strict):
    """What every version of Disbursed carries besides its amount and economic class."""

    line_id: Identifier
    spending_department: DepartmentCode | None = Field(
        None, description="Unit that spent the money (default: the event's department)"
    )
    purpose: Text | None = None
    funding_source: FundingSource = Field(
        DEFAULT_FUNDING_SOURCE, description="The source spent from: " + _FUNDING_SOURCE
    )


class DisbursedData(PaymentData):
    amount: Amount
    economic_class: str = Field(
        pattern=r"^[0-9]{3}$",
        description="GFS-style economic class (类): 301 wages, 302 goods and services, ...",
        examples=["302"],
    )
    economic_item: str | None = Field(
        None,
        pattern=r"^[0-9]{1,4}$",
        description="Its item (款), e.g. 01 of 30201; absent: the class as a whole",
        examples=["01"],
    )

    @property
    def economic_code(self) -> str:
        """Class and item as one code (30201): what version 1 carried, and the projections key."""
        return self.economic_class + (self.economic_item or "")


class DisbursementReversedData(_Strict):
    reverses: Identifier = Field(description="event_id of the Disbursed being reversed")
    reason: Text


class PerformanceTargetSetData(_Strict):
    target_id: Identifier
    line_id: Identifier | None = Field(None, description="Absent: a department-level target")
    level1: ShortText = Field(examples=["产出指标"])
    level2: ShortText = Field(examples=["数量指标"])
    name: Text
    metric: Annotated[str, Field(min_length=1, max_length=128)] = Field(
        description="A metric name of docs/contract.md section 4, or output:<indicator>",
        examples=["closure_rate"],
    )
    comparator: Literal[">=", "<=", "="]
    value: DecimalString
    unit: ShortText
    weight: Weight


class OutputRecordedData(_Strict):
    indicator: Text
    quantity: DecimalString
    unit: ShortText
    line_id: Identifier | None = None


# The case rates an assessment scheme may score (docs/contract.md section 4): each is a fraction
# of 1, and an assignee's points on it are weight × min(rate, 1).
AssessmentMetric = Literal["on_time_rate", "closure_rate_due", "closure_rate", "disposal_rate"]


class AssessmentIndicator(_Strict):
    metric: AssessmentMetric = Field(
        description="The assignee's case rate scored (docs/contract.md section 4): on_time_rate "
        "按期结案率, closure_rate_due 结案率 (of the cases due), closure_rate, disposal_rate"
    )
    name: ShortText | None = Field(None, description="As the bulletin names it, e.g. 按期结案率")
    weight: Weight = Field(description="Points out of 100; the weights of a scheme sum to 100")


class AssessmentSchemeSetData(_Strict):
    effective_month: int = Field(
        ge=1, le=12, description="First month of the fiscal year the scheme scores (1-12)"
    )
    indicators: list[AssessmentIndicator] = Field(min_length=1, max_length=10)
    document: Text | None = Field(None, description="The assessment rules it follows (考核办法)")

    @model_validator(mode="after")
    def _weights_make_100(self) -> AssessmentSchemeSetData:
        metrics = [i.metric for i in self.indicators]
        if len(set(metrics)) != len(metrics):
            raise PydanticCustomError(
                "duplicate_indicator", "indicators: each metric may appear once"
            )
        if sum(i.weight for i in self.indicators) != 100:
            raise PydanticCustomError(
                "weights_not_100", "indicators: the weights must sum to 100 (a 100-point scale)"
            )
        return self


class ProcurementPlannedData(_Strict):
    procurement_id: Identifier
    line_id: Identifier
    amount: PositiveMoney
    method: ShortText = Field(examples=["open_tender"])


class ContractAwardedData(_Strict):
    procurement_id: Identifier
    contract_id: Identifier
    supplier: Text
    amount: PositiveMoney


FigureString = Annotated[str, Field(pattern=DECIMAL_PATTERN, examples=["0.7303", "36890100.00"])]


class DeviationExplainedData(_Strict):
    target_id: Identifier = Field(description="The target (PerformanceTargetSet) explained")
    text: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="Why the actual deviates from the target (偏差原因及改进措施)"
    )
    author: ShortText = Field(description="Who wrote it: the evaluator's token subject")


class GoalStatedData(_Strict):
    line_id: Identifier | None = Field(None, description="Absent: the department's goal")
    expected: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="The year's overall goal as set (年度总体目标: 预期目标)"
    )
    actual: Annotated[str, Field(min_length=1, max_length=2000)] | None = Field(
        None, description="What was achieved (实际完成情况)"
    )
    author: ShortText = Field(description="Who wrote it: the evaluator's token subject")


class EvaluationSignedData(_Strict):
    line_id: Identifier | None = Field(None, description="Absent: the department's evaluation")
    as_of: date = Field(description="The day the signed figures count up to, in the year")
    signer: ShortText = Field(description="Who signed: the evaluator's token subject")
    figures: dict[Annotated[str, Field(max_length=64)], FigureString | None] = Field(
        max_length=100,
        description="The evaluation's figures as signed, by metric name (null: a rate of a "
        "zero denominator)",
    )
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="sha256 (hex) of the figures as JSON: keys sorted, separators , and : "
        "without spaces"
    )

    @model_validator(mode="after")
    def _digest_of_figures(self) -> EvaluationSignedData:
        if self.digest != figures_digest(self.figures):
            raise PydanticCustomError("digest_mismatch", "digest: not the sha256 of figures")
        return self


def figures_digest(figures: Mapping[str, Any]) -> str:
    """sha256 of figures by metric name: their JSON, keys sorted, no spaces, values as given."""
    canonical = json.dumps(dict(figures), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class CaseRef(_Strict):
    case_id: Identifier


class CaseReportedData(CaseRef):
    channel: ShortText = Field(examples=["supervisor_patrol", "public_hotline", "hotline_12345"])
    category: ShortText = Field(examples=["占道经营"])
    kind: Literal["event", "component"] = Field(description="event 事件 | component 部件")
    grid: ShortText | None = None
    advance_disposal: bool = Field(False, description="先行处置")


class CaseFiledData(CaseRef):
    deadline_at: AwareDatetime


class CaseDispatchedData(CaseRef):
    assignee: DepartmentCode = Field(description="Department the case is dispatched to")


# --- envelopes -------------------------------------------------------------------------------


FISCAL_YEARS = range(2000, 2101)  # the years an event may belong to


class Envelope(_Strict):
    """Fields every event carries; each event type narrows ``event_type`` and ``data``."""

    event_id: Annotated[str, Field(min_length=1, max_length=128)] = Field(
        description="Unique forever; the same id with identical content is a no-op"
    )
    event_type: str = Field(description="One of the event types of docs/contract.md section 3")
    schema_version: Literal[1] = Field(description="Contract version of the event; 1")
    occurred_at: AwareDatetime = Field(
        description="Business time, RFC 3339 with offset; all as-of questions use it",
        examples=["2017-08-31T16:00:00+08:00"],
    )
    department: DepartmentCode
    fiscal_year: int = Field(ge=FISCAL_YEARS.start, le=FISCAL_YEARS.stop - 1)
    source: ShortText = Field(description="The publishing system", examples=["finance"])
    data: Any = Field(description="Type-specific fields; unknown fields are rejected")


class DepartmentRegistered(Envelope):
    """A budget unit."""

    event_type: Literal["DepartmentRegistered"]
    data: DepartmentRegisteredData


class BudgetAuthorised(Envelope):
    """Budget authorised on a line."""

    event_type: Literal["BudgetAuthorised"]
    data: BudgetAuthorisedData


class BudgetAdjusted(Envelope):
    """追加 (> 0) or 调减 (< 0)."""

    event_type: Literal["BudgetAdjusted"]
    data: BudgetAdjustedData


class FundsArrived(Envelope):
    """Quota issued / funds received (资金到位)."""

    event_type: Literal["FundsArrived"]
    data: FundsArrivedData


class FundsTransferred(Envelope):
    """Funds passed down (下拨)."""

    event_type: Literal["FundsTransferred"]
    data: FundsTransferredData


class Disbursed(Envelope):
    """Money spent from a line. Version 2: the amount carries its currency, the economic class
    is split into class and item; version 1 (DisbursedV1) is still accepted (schemas.versions)."""

    event_type: Literal["Disbursed"]
    schema_version: Literal[2] = Field(  # type: ignore[assignment]
        description="2; version 1 is schemas/json/DisbursedV1.json"
    )
    data: DisbursedData


class DisbursementReversed(Envelope):
    """Compensates one Disbursed, once."""

    event_type: Literal["DisbursementReversed"]
    data: DisbursementReversedData


class PerformanceTargetSet(Envelope):
    """A performance indicator with its target."""

    event_type: Literal["PerformanceTargetSet"]
    data: PerformanceTargetSetData


class OutputRecorded(Envelope):
    """An output quantity achieved."""

    event_type: Literal["OutputRecorded"]
    data: OutputRecordedData


class AssessmentSchemeSet(Envelope):
    """How the platform-owning department scores its assignees (streets, functional
    departments) in the monthly assessment (月考核), from a month of the fiscal year on."""

    event_type: Literal["AssessmentSchemeSet"]
    data: AssessmentSchemeSetData


class ProcurementPlanned(Envelope):
    """A planned procurement."""

    event_type: Literal["ProcurementPlanned"]
    data: ProcurementPlannedData


class ContractAwarded(Envelope):
    """A contract on a procurement."""

    event_type: Literal["ContractAwarded"]
    data: ContractAwardedData


class CaseReported(Envelope):
    """上报: the first stage of a case."""

    event_type: Literal["CaseReported"]
    data: CaseReportedData


class CaseAccepted(Envelope):
    """受理."""

    event_type: Literal["CaseAccepted"]
    data: CaseRef


class CaseFiled(Envelope):
    """立案, with its deadline."""

    event_type: Literal["CaseFiled"]
    data: CaseFiledData


class CaseDispatched(Envelope):
    """派遣 (may repeat: 改派)."""

    event_type: Literal["CaseDispatched"]
    data: CaseDispatchedData


class CaseDisposed(Envelope):
    """处置."""

    event_type: Literal["CaseDisposed"]
    data: CaseRef


class CaseClosed(Envelope):
    """结案."""

    event_type: Literal["CaseClosed"]
    data: CaseRef


class DeviationExplained(Envelope):
    """An evaluator's note on why a target's actual deviates (偏差原因)."""

    event_type: Literal["DeviationExplained"]
    data: DeviationExplainedData


class GoalStated(Envelope):
    """The year's overall goal of a department or line (年度总体目标), as its evaluator puts it."""

    event_type: Literal["GoalStated"]
    data: GoalStatedData


class EvaluationSigned(Envelope):
    """An evaluator signs an evaluation as of a day, keeping its figures."""

    event_type: Literal["EvaluationSigned"]
    data: EvaluationSignedData


BUDGET_EVENTS: tuple[type[Envelope], ...] = (
    DepartmentRegistered,
    BudgetAuthorised,
    BudgetAdjusted,
    FundsArrived,
    FundsTransferred,
    Disbursed,
    DisbursementReversed,
    PerformanceTargetSet,
    OutputRecorded,
)
PROCUREMENT_EVENTS: tuple[type[Envelope], ...] = (ProcurementPlanned, ContractAwarded)
CASE_STAGE_EVENTS: tuple[type[Envelope], ...] = (
    CaseReported,
    CaseAccepted,
    CaseFiled,
    CaseDispatched,
    CaseDisposed,
    CaseClosed,
)
CASE_EVENTS: tuple[type[Envelope], ...] = (*CASE_STAGE_EVENTS, AssessmentSchemeSet)
EVALUATION_EVENTS: tuple[type[Envelope], ...] = (DeviationExplained, GoalStated, EvaluationSigned)
ALL_EVENTS = BUDGET_EVENTS + PROCUREMENT_EVENTS + CASE_EVENTS + EVALUATION_EVENTS
CASE_STAGES: tuple[str, ...] = tuple(m.__name__ for m in CASE_STAGE_EVENTS)

"""The inbound topic group of each event type ('budget', 'procurement', 'case', 'evaluation')."""
TOPIC_GROUP: dict[str, str] = {
    **{m.__name__: "budget" for m in BUDGET_EVENTS},
    **{m.__name__: "procurement" for m in PROCUREMENT_EVENTS},
    **{m.__name__: "case" for m in CASE_EVENTS},
    **{m.__name__: "evaluation" for m in EVALUATION_EVENTS},
}
