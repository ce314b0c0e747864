from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ConsumerSettings


class LedgerSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    ledger_group_id: str = "ledger"
    # Records a batch (one transaction) takes at most: a batch's queries are paid once for all
    # its records (one ledger on a district: 9,646 events/s at 5,000, 8,559 at 2,000)
    ledger_batch_size: int = Field(default=5000, ge=1)
    # How long a record that arrived before the event it depends on (on another topic, or
    # published late) is held and retried before it is rejected. 0: reject at once.
    ledger_hold_seconds: float = Field(default=3600, ge=0)
    # How often the relay checks that the journal and rejection topics still hold what it
    # published (a memory-only broker that restarted holds nothing) and re-publishes if not.
    ledger_topic_check_seconds: float = Field(default=30, gt=0)
    ledger_http_port: int = Field(
        8001,
        ge=1,
        le=65535,
        description="Port of /healthz, /readyz and /metrics (LEDGER_HTTP_PORT)",
    )
