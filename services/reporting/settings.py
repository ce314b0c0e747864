from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


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
