"""The errors a client is told about as they are; anything else is masked (policy.py)."""

from __future__ import annotations


class UserInputError(ValueError):
    """A question the data cannot answer as asked: an unknown department or line, a date
    outside the fiscal year, a month that is not one. GraphQL code ``BAD_USER_INPUT``."""

    extensions = {"code": "BAD_USER_INPUT"}  # graphql-core copies it into the error


class Forbidden(PermissionError):
    """Outside the token's departments or roles. GraphQL code ``FORBIDDEN``; pages 403."""

    extensions = {"code": "FORBIDDEN"}


TOLD = (UserInputError, Forbidden)
