from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings
from services.reporting.policy import QueryLimits


class ReportingSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    graphql_host: str = Field("127.0.0.1", description="Interface the gateway listens on")
    graphql_port: int = Field(8000, ge=1, le=65535, description="Port of the gateway")
    projection_schema: str = Field(
        "performance",
        pattern=r"^[a-z_][a-z0-9_]*$",
        description="The projections to answer from: the live schema, or a snapshot kept by "
        "`performance replay --until` (PROJECTION_SCHEMA)",
    )
    auth_jwt_secret: SecretStr | None = Field(
        None, description="HS256 key of the bearer tokens (AUTH_JWT_SECRET)"
    )
    auth_jwks_url: str | None = Field(
        None, description="An OIDC provider's JWKS, for RS256/ES256 tokens (AUTH_JWKS_URL)"
    )
    auth_issuer: str | None = Field(None, description="Required iss, when set (AUTH_ISSUER)")
    auth_audience: str | None = Field(None, description="Required aud, when set (AUTH_AUDIENCE)")
    auth_jwks_cooldown: float = Field(
        30, ge=0, description="Seconds between fetches of the JWKS for unknown kids"
    )
    graphiql: bool = Field(False, description="GRAPHIQL=1: GraphiQL and introspection on")
    ready_max_lag_seconds: float = Field(
        300,
        ge=0,
        description="/readyz answers 503 while the projections are further behind the "
        "ledger's event store than this (READY_MAX_LAG_SECONDS)",
    )
    graphql_max_depth: int = Field(10, ge=1)
    graphql_max_aliases: int = Field(30, ge=0)
    graphql_max_tokens: int = Field(5000, ge=1)
    graphql_max_cost: int = Field(1500, ge=1)
    graphql_max_bytes: int = Field(65536, ge=1, description="Largest request body accepted")
    gateway_max_in_flight: int = Field(
        64,
        ge=1,
        description="Requests answered at once (/healthz, /readyz, /metrics aside); one more is "
        "answered 503 with Retry-After: 1 at once (GATEWAY_MAX_IN_FLIGHT)",
    )

    @model_validator(mode="after")
    def _authenticated(self) -> "ReportingSettings":
        if self.auth_jwt_secret is None and not self.auth_jwks_url:
            raise ValueError(
                "the gateway verifies bearer tokens: set AUTH_JWT_SECRET (HS256) or "
                "AUTH_JWKS_URL (RS256/ES256 keys of an OIDC provider)"
            )
        return self

    def limits(self) -> QueryLimits:
        return QueryLimits(
            max_depth=self.graphql_max_depth,
            max_aliases=self.graphql_max_aliases,
            max_tokens=self.graphql_max_tokens,
            max_cost=self.graphql_max_cost,
            introspection=self.graphiql,
        )
