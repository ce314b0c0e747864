from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class LedgerSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    ledger_group_id: str = "ledger"
    ledger_batch_size: int = 2000
