"""Per request: the pool, and DataLoaders that answer all the departments, lines, months and
line lists a query asks for (however many: aliases, a department's lines, previous years) in
one batch each, with a fixed number of SQL queries per batch. The batch functions read the
projections (queries) and leave the arithmetic to evaluation.py: they return evaluated
figures, which the GraphQL types present."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo

import asyncpg
from starlette.requests import Request
from strawberry.dataloader import DataLoader

from services.reporting import assessment, case_figures, evaluation
from services.reporting.access import READERS, Scope, Viewer
from services.reporting.cache import FiguresCache
from services.reporting.errors import UserInputError
from services.reporting.evaluation import (
    DepartmentFigures,
    DepartmentKey,
    DepartmentSums,
    LineFigures,
    MonthPoint,
)
from services.reporting.publish import Publisher
from services.reporting.queries import cases, departments, lines
from services.reporting.queries.batch import Evaluation

LineKey = tuple[str, date | None]  # (line_id, asOf)
MonthsKey = tuple[tuple[str, ...], int, date]  # (departments, fiscal year, last day)
LineIdsKey = tuple[tuple[str, ...], int]  # (departments, fiscal year)
SourcesKey = tuple[tuple[str, ...], date]  # (lines, last day)
Sums = dict[str, Decimal]

K = TypeVar("K")
V = TypeVar("V")
Batch = Callable[[asyncpg.Connection, list[K]], Awaitable[Sequence[V | BaseException]]]


@dataclass
class Context:
    """The per-request state of the GraphQL schema: who asks, and the loaders."""

    pool: asyncpg.Pool
    viewer: Viewer
    today: date  # the day "now" is, in the gateway's time zone: an evaluation without asOf
    timezone: ZoneInfo  # where a day ends (TIMEZONE), as the projections count days
    cache: FiguresCache = field(default_factory=FiguresCache)  # the app's, shared
    publisher: Publisher | None = None  # where evaluators' events go (None: nowhere)
    departments: DataLoader[DepartmentKey, DepartmentFigures] = field(init=False)
    lines: DataLoader[LineKey, LineFigures] = field(init=False)
    monthly: DataLoader[MonthsKey, list[MonthPoint]] = field(init=False)
    line_ids: DataLoader[LineIdsKey, list[str]] = field(init=False)
    sources: DataLoader[SourcesKey, dict[str, Sums]] = field(init=False)  # lines' funds by source
    names: DataLoader[str, str | None] = field(init=False)  # departments' registered names
    operation: str | None = field(init=False, default=None)  # its name, for the access log
    _scope: Scope | None = field(init=False, default=None)
    _version: str | None = field(init=False, default=None)  # of the projections (cache.py)

    def __post_init__(self) -> None:
        self.departments = self._loader(
            "departments", partial(evaluate_departments, today=self.today)
        )
        self.lines = self._loader("lines", partial(evaluate_lines, today=self.today))
        self.monthly = self._loader("monthly", monthly)
        self.line_ids = self._loader("line_ids", line_ids)
        self.sources = self._loader("sources", lines.by_source)
        self.names = self._loader("names", names)

    @classmethod
    def of(cls, request: Request) -> Context:
        """The context of an authenticated request (bootstrap.py keeps the pool and the time
        zone in the app's state, Authenticate the viewer in the request's)."""
        state = request.app.state
        today = datetime.now(state.timezone).date()
        return cls(
            state.pool, request.state.viewer, today, state.timezone, state.figures_cache,
            state.publisher,
        )  # fmt: skip

    async def scope(self) -> Scope:
        """The departments the viewer may see (asked once per request)."""
        if self._scope is None:
            if self.viewer.sees_all:
                self._scope = Scope(None)
            else:
                claimed = list(self.viewer.departments)
                async with self.pool.acquire() as conn:
                    under = await departments.subunits(conn, claimed)
                self._scope = Scope(frozenset(claimed).union(*under.values()))
        return self._scope

    async def readable(self, department: str) -> Scope:
        """The scope, once the viewer is shown to read this department's evaluations."""
        self.viewer.require_role(READERS, "reading evaluations")
        scope = await self.scope()
        scope.require(department)
        return scope

    def _loader(self, name: str, batch: Batch[K, V]) -> DataLoader[K, V]:
        """A loader of the batch's answers: those the cache holds, the others in one batch."""

        async def load(keys: list[K]) -> Sequence[V | BaseException]:
            async with self.pool.acquire() as conn:
                if self._version is None:  # once per request, before its first query
                    self._version = await self.cache.current(conn)
                version = self._version
                found = {key: self.cache.get(version, (name, key, self.today)) for key in keys}
                missing = [key for key, (hit, _) in found.items() if not hit]
                answers = (
                    dict(zip(missing, await batch(conn, missing), strict=True)) if missing else {}
                )
            for key, answer in answers.items():
                if not isinstance(answer, BaseException):
                    self.cache.put(version, (name, key, self.today), answer)
            return [answers[key] if key in answers else found[key][1] for key in keys]

        return DataLoader(load)

    async def previous_year(self, key: DepartmentKey) -> DepartmentFigures | None:
        """The same evaluation a year earlier; None when that year has no data."""
        try:
            return await self.departments.load(key.year_before())
        except UserInputError:
            return None


def _asked(
    keys: list[DepartmentKey],
    known: dict[str, dict],
    subunits: dict[str, list[str]],
    today: date,
) -> tuple[dict[int, Evaluation], dict[int, BaseException]]:
    """The evaluations to make (by the keys' positions), and the keys refused."""
    errors: dict[int, BaseException] = {}
    asked: dict[int, Evaluation] = {}
    for index, key in enumerate(keys):
        try:
            day = evaluation.evaluation_day(key.as_of, key.fiscal_year, today)
            if key.department not in known:
                raise UserInputError(f"unknown department {key.department!r}")
        except ValueError as error:
            errors[index] = error
            continue
        units = subunits.get(key.department, []) if key.include_subunits else []
        asked[index] = ([key.department, *units], key.fiscal_year, day)
    return asked, errors


async def evaluate_departments(
    conn: asyncpg.Connection, keys: list[DepartmentKey], today: date
) -> list[DepartmentFigures | BaseException]:
    """Evaluate departments as of dates in a fixed number of queries (a DataLoader batch)."""
    known = await departments.known(conn, [k.department for k in keys])
    roots = [k.department for k in keys if k.include_subunits]
    asked, errors = _asked(keys, known, await departments.subunits(conn, roots), today)
    with_data = await departments.with_data(conn, list(asked.values()))
    for position, index in enumerate(list(asked)):
        if position not in with_data:
            key = keys[index]
            errors[index] = UserInputError(
                f"department {key.department!r} has no data for fiscal year {key.fiscal_year}"
            )
            del asked[index]
    evaluations = list(asked.values())
    if not evaluations:
        return [errors[i] for i in range(len(keys))]
    found = zip(
        await departments.budgets(conn, evaluations),
        await cases.department_cases(conn, evaluations),
        await departments.outputs(conn, evaluations),
        await departments.targets(conn, [(keys[i].department, keys[i].fiscal_year) for i in asked]),
        strict=True,
    )
    evaluated = {
        index: evaluation.department(
            keys[index], known[keys[index].department], codes, day, DepartmentSums(*sums)
        )
        for index, (codes, _, day), sums in zip(asked, evaluations, found, strict=True)
    }
    return [errors[i] if i in errors else evaluated[i] for i in range(len(keys))]


async def evaluate_lines(
    conn: asyncpg.Connection, keys: list[LineKey], today: date
) -> list[LineFigures | BaseException]:
    """Evaluate lines as of dates in a fixed number of queries (a DataLoader batch)."""
    rows = await lines.by_id(conn, [line_id for line_id, _ in keys])
    asked: dict[int, tuple[str, date]] = {}
    errors: dict[int, BaseException] = {}
    for index, (line_id, as_of) in enumerate(keys):
        try:
            if line_id not in rows:
                raise UserInputError(f"unknown budget line {line_id!r}")
            fiscal_year = rows[line_id]["fiscal_year"]
            asked[index] = (line_id, evaluation.evaluation_day(as_of, fiscal_year, today))
        except ValueError as error:
            errors[index] = error
    pairs = list(asked.values())
    if not pairs:
        return [errors[i] for i in range(len(keys))]
    budgets = await lines.budgets(conn, pairs)
    outputs = await lines.outputs(conn, pairs)
    targets = await lines.targets(conn, [line_id for line_id, _ in pairs])
    evaluated = {
        index: evaluation.line(
            rows[line_id], (keys[index][1], day), budget, produced, targets.get(line_id, [])
        )
        for index, (line_id, day), budget, produced in zip(
            asked, pairs, budgets, outputs, strict=True
        )
    }
    return [errors[i] if i in errors else evaluated[i] for i in range(len(keys))]


async def monthly(conn: asyncpg.Connection, keys: list[MonthsKey]) -> list[list[MonthPoint]]:
    """The months of evaluations (January to the month of the day) in one query."""
    found = await departments.monthly(conn, keys)
    return [
        evaluation.monthly_points(fiscal_year, day, rows)
        for (_, fiscal_year, day), rows in zip(keys, found, strict=True)
    ]


async def line_ids(conn: asyncpg.Connection, keys: list[LineIdsKey]) -> list[list[str]]:
    """The lines of departments in their fiscal years, in one query."""
    return await departments.line_ids(conn, keys)


async def names(conn: asyncpg.Connection, codes: list[str]) -> list[str | None]:
    """The registered names of departments (None: unregistered), in one query."""
    known = await departments.known(conn, codes)
    return [known[code]["name"] if code in known else None for code in codes]


async def evaluate_assessment(
    conn: asyncpg.Connection,
    department: str,
    fiscal_year: int,
    month: int | None,
    as_of: date | None,
) -> assessment.Bulletin:
    """The assessment of a period, compared with the period before, in five queries."""
    periods = assessment.periods(fiscal_year, month, as_of)
    known = await departments.known(conn, [department])
    if department not in known:
        raise UserInputError(f"unknown department {department!r}")
    found = await cases.department_cases(
        conn,
        [([department], p.fiscal_year, day) for p, day in periods],
        [p.start for p, _ in periods],
    )
    schemes = [
        assessment.scheme_of(row)
        for row in await cases.assessment_schemes(
            conn, department, [(p.fiscal_year, p.month or 12, day) for p, day in periods]
        )
    ]
    now = assessment.assessed(found[0]["assignee"], schemes[0])
    before = assessment.assessed(found[1]["assignee"], schemes[1]) if len(periods) > 1 else {}
    names = await departments.known(conn, list(now))
    period, day = periods[0]
    return assessment.Bulletin(
        department=department,
        name=known[department]["name"],
        period=period,
        as_of=day,
        scheme=schemes[0],
        total=case_figures.case_figures(case_figures.summed(found[0]["assignee"])),
        assignees=assessment.standings(now, before),
        names={code: registered["name"] for code, registered in names.items()},
    )
