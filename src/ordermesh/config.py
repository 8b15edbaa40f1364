"""Configuration from ORDERMESH_* environment variables (documented in docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERMESH_", env_file=None, extra="ignore")

    database_url: str = Field(
        "sqlite:///var/ordermesh.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql://user@host:5432/db",
    )
    secret_key: str | None = Field(
        None,
        description="Signs dashboard session cookies. If unset, one is generated and kept in var/secret_key.",
    )
    credentials_key: str | None = Field(
        None,
        description="Fernet key(s), comma-separated, that seal channel credentials at rest; the first seals. "
        "If unset, a key is derived from the session secret.",
    )
    webhooks_inline: bool = Field(
        True,
        description="Process a channel's webhook or a carrier's tracking push in the request that received it "
        "(false: store it, answer at once, and leave processing to the workers, which apply tracking pushes in batches)",
    )
    channel_poll_minutes: float = Field(5.0, description="How often the worker pulls orders from each channel")
    inventory_push_seconds: float = Field(
        1.0, description="At most how often the worker pushes changed stock to channels (changes in between coalesce)"
    )
    tracking_poll_minutes: float = Field(
        30.0, description="How often the worker asks carriers without tracking webhooks for their shipments' scans"
    )
    channel_inbox_seconds: float = Field(
        1.0,
        description="How often the worker processes queued channel webhooks, in batches "
        "(when webhooks are not processed inline)",
    )
    tracking_inbox_seconds: float = Field(
        1.0,
        description="How often the worker applies queued carrier tracking pushes, in batches "
        "(when webhooks are not processed inline)",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    pool_size: int = Field(10, description="PostgreSQL connections per process")
    sqlite_busy_timeout_ms: int = 30_000
    max_body_bytes: int = Field(2 * 1024 * 1024, description="Largest request body the API accepts")
    max_upload_bytes: int = Field(50 * 1024 * 1024, description="Largest CSV upload the API accepts")
    worker_poll_seconds: float = 1.0
    worker_batch_size: int = 100
    worker_max_attempts: int = 10
    worker_lease_seconds: int = 60
    log_level: str = "info"
    session_cookie_secure: bool = Field(False, description="Set true when served over HTTPS")


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
