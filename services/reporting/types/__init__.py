"""The GraphQL types (docs/contract.md section 5), one module per concept. Money and rates are
exact decimal strings; rates are rounded half-up to 4 places and null when their denominator
is zero. Each type maps the evaluated figures (services/reporting/evaluation.py) or the rows
it shows with a ``from_*`` classmethod."""
