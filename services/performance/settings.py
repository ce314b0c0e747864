from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class PerformanceSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    performance_group_id: str = "performance"
    performance_batch_size: int = 5000
    ledger_database_url: str | None = Field(
        None, description="The ledger's event store, read by a replay (default: DATABASE_URL)"
    )
