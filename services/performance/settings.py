from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ConsumerSettings


class PerformanceSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    performance_group_id: str = "performance"
    performance_batch_size: int = 5000
    ledger_database_url: str | None = Field(
        None, description="The ledger's event store, read by a replay (default: DATABASE_URL)"
    )
    performance_http_port: int = Field(
        8002,
        ge=1,
        le=65535,
        description="Port of /healthz, /readyz and /metrics (PERFORMANCE_HTTP_PORT)",
    )
    replay_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="`performance replay` serves its progress gauges at /metrics on this "
        "port (on HTTP_HOST) while it runs, when set (REPLAY_METRICS_PORT)",
    )
