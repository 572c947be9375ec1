"""Environment settings (secrets and URLs), read once by pydantic-settings.

Everything that is not a secret or a URL lives in the TOML config (bot/config.py).
Secrets may also come from files (bot/settings_files.py): `NAME_FILE=/path` for one
variable, or `FRONTDESK_SECRETS_DIR` for a directory of files named after the variables.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.settings_env import DEFAULT_DATABASE_URL
from bot.settings_files import file_sources


class Settings(BaseSettings):
    """Process settings; variable names are the ones in SPEC §1 (and Bolt's own)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    frontdesk_config: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    frontdesk_webhook_secret: SecretStr | None = None
    frontdesk_encryption_key: SecretStr | None = None
    frontdesk_public_url: str = "http://127.0.0.1:3000"

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    ms_tenant_id: str | None = None
    ms_client_id: str | None = None
    ms_client_secret: SecretStr | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    postmark_server_token: SecretStr | None = None
    postmark_from: str | None = None
    hubspot_access_token: SecretStr | None = None
    salesforce_instance_url: str | None = None
    salesforce_client_id: str | None = None
    salesforce_username: str | None = None
    salesforce_private_key_file: str | None = None

    slack_api_url: str = "https://slack.com/api/"
    google_api_url: str = "https://www.googleapis.com/"
    google_auth_url: str = "https://accounts.google.com/o/oauth2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    ms_graph_url: str = "https://graph.microsoft.com/v1.0"
    ms_authority_url: str = "https://login.microsoftonline.com"
    twilio_api_url: str = "https://api.twilio.com"
    postmark_api_url: str = "https://api.postmarkapp.com/"
    hubspot_api_url: str = "https://api.hubapi.com"
    salesforce_login_url: str = "https://login.salesforce.com"

    # Operational knobs with safe defaults; not part of the public contract.
    frontdesk_log_level: str = "INFO"
    frontdesk_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    frontdesk_signature_tolerance_seconds: int = Field(default=300, ge=1)
    # How often the scheduler looks for due reminders, SLA re-pings and outcome prompts.
    frontdesk_tick_seconds: float = Field(default=30.0, gt=0, le=3600)
    # PostgreSQL connections per process (pool, then overflow); 0 = no pool, a connection
    # per use (behind RDS Proxy or PgBouncer). Unset: 10 + 20, or 1 + 2 on AWS Lambda.
    frontdesk_db_pool_size: int | None = Field(default=None, ge=0, le=100)
    frontdesk_db_max_overflow: int | None = Field(default=None, ge=0, le=100)
    # Set by the Lambda runtime itself: Slack work is then done before the response.
    aws_lambda_function_name: str | None = None
    # Where the booking page's per-client rate limits are counted: this process's memory,
    # or a Redis URL (redis://host:6379/0) shared by every replica.
    frontdesk_rate_limit_storage: str = "memory://"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # A variable in the environment wins over a `_FILE`, which wins over the directory.
        return (init_settings, env_settings, *file_sources(settings_cls))

    @property
    def on_lambda(self) -> bool:
        return bool(self.aws_lambda_function_name)

    def db_pool(self) -> tuple[int, int]:
        """(pool size, max overflow) for PostgreSQL. A Lambda instance serves one request
        at a time and many instances share the database: one warm connection each.
        """
        size, overflow = (1, 2) if self.on_lambda else (10, 20)
        if self.frontdesk_db_pool_size is not None:
            size = self.frontdesk_db_pool_size
        if self.frontdesk_db_max_overflow is not None:
            overflow = self.frontdesk_db_max_overflow
        return size, overflow

    # Ops pages (/sandbox, /metrics, /docs, /openapi.json) once any service is real (SPEC §9).
    frontdesk_admin_token: SecretStr | None = None
    frontdesk_metrics_token: SecretStr | None = None
    # A real calendar with sandboxed email (or the reverse) refuses to start unless this says
    # the mix is deliberate.
    frontdesk_allow_mixed: bool = False
    # How long a duplicate submission waits (without holding a thread) for the original's
    # answer before it gets 409 + Retry-After.
    frontdesk_duplicate_wait_seconds: float = Field(default=3.0, ge=0, le=60)
    # Connection limits of `frontdesk serve` (documented in README "Security and limits").
    frontdesk_keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    frontdesk_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    frontdesk_body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    frontdesk_max_concurrency: int = Field(default=200, ge=1)

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def google_configured(self) -> bool:
        return bool(self.google_client_id and self.google_client_secret)

    @property
    def microsoft_configured(self) -> bool:
        return bool(self.ms_tenant_id and self.ms_client_id and self.ms_client_secret)

    @property
    def postmark_configured(self) -> bool:
        return bool(self.postmark_server_token and self.postmark_from)

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @property
    def hubspot_configured(self) -> bool:
        return bool(self.hubspot_access_token)

    @property
    def salesforce_configured(self) -> bool:
        return bool(
            self.salesforce_instance_url
            and self.salesforce_client_id
            and self.salesforce_username
            and self.salesforce_private_key_file
        )
