"""Configuration: ``config.yaml`` overlaid by ``LVZHI_<SECTION>__<KEY>`` environment variables.

Precedence, highest first: explicit overrides (tests), environment, the YAML file, defaults.
The file comes from ``--config``, else ``LVZHI_CONFIG``, else ``./config.yaml``.
A bad value becomes one :class:`ConfigError` line that names the key; ``bot.cli.main`` turns it into exit code 2.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_CONFIG_PATH = Path("config.yaml")


class ConfigError(Exception):
    """One human-readable line naming the key and what is wrong with it."""


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    reply_budget_seconds: float = Field(4.5, gt=0, le=4.8)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    # Messages handled at once; beyond that they are answered "success" and handled from the inbox
    # (bot/chat/inbox.py). 100 × a few ms per message on SQLite's single writer stays far inside the 5 s.
    # 0 answers every message "success" and pushes every reply.
    max_inflight: int = Field(100, ge=0)


class DatabaseSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///./var/lvzhi.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return url


class WechatSettings(BaseModel):
    enabled: bool = False
    token: SecretStr = SecretStr("")
    app_id: str = ""
    app_secret: SecretStr = SecretStr("")
    encoding_aes_key: SecretStr = SecretStr("")
    previous_encoding_aes_key: SecretStr = SecretStr("")
    mode: Literal["plain", "compatible", "safe"] = "safe"
    api_base: str = "https://api.weixin.qq.com"
    template_id: str = ""

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> WechatSettings:
        if not self.enabled:
            return self
        _require(self.token.get_secret_value(), "token")
        _require(self.app_id, "app_id")
        if self.mode != "plain":
            _check_aes_key(self.encoding_aes_key.get_secret_value(), "encoding_aes_key")
        if self.previous_encoding_aes_key.get_secret_value():
            _check_aes_key(self.previous_encoding_aes_key.get_secret_value(), "previous_encoding_aes_key")
        return self


class WecomSettings(BaseModel):
    enabled: bool = False
    corp_id: str = ""
    agent_id: int = 0
    secret: SecretStr = SecretStr("")
    token: SecretStr = SecretStr("")
    encoding_aes_key: SecretStr = SecretStr("")
    api_base: str = "https://qyapi.weixin.qq.com"

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> WecomSettings:
        if not self.enabled:
            return self
        _require(self.corp_id, "corp_id")
        _require(self.token.get_secret_value(), "token")
        _check_aes_key(self.encoding_aes_key.get_secret_value(), "encoding_aes_key")
        return self


class SimulatorSettings(BaseModel):
    enabled: bool = True
    allow_public: bool = False


class SchedulerSettings(BaseModel):
    enabled: bool = True
    timezone: str = "Asia/Shanghai"
    misfire_grace_seconds: int = Field(3600, ge=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The committee's time zone (``timezone`` names it): local dates, times and years are read in it."""
        return ZoneInfo(self.timezone)


class ConversationSettings(BaseModel):
    idle_timeout_minutes: int = Field(30, ge=1)
    max_wrong_answers: int = Field(3, ge=1)


class DeliverySettings(BaseModel):
    rate_per_second: float = Field(50, gt=0)
    per_recipient_per_minute: int = Field(20, ge=1)
    max_attempts: int = Field(6, ge=1)
    base_backoff_seconds: float = Field(2.0, gt=0)
    batch_size: int = Field(100, ge=1)


class AdminSettings(BaseModel):
    api_token: SecretStr = SecretStr("")
    # Signs links (the venue screen, read tracking). Empty: a random key made once and kept in the database.
    signing_key: SecretStr = SecretStr("")


class ConsoleSettings(BaseModel):
    """The secretary console under /console/ (bot/web/console): how long its sessions and CLI links last."""

    idle_timeout_minutes: int = Field(60, ge=1, le=24 * 60)  # a session unused this long has to log in again
    lifetime_hours: int = Field(12, ge=1, le=30 * 24)  # and every session ends this long after its login
    link_minutes: int = Field(30, ge=1, le=24 * 60)  # a one-time login link from `lvzhi console link`


class ActivitySettings(BaseModel):
    signin_opens_minutes_before: int = Field(60, ge=0, le=24 * 60)
    signin_closes_minutes_after: int = Field(60, ge=0, le=24 * 60)  # after the start
    late_after_minutes: int = Field(10, ge=0, le=24 * 60)  # after the start; must be inside the window
    code_period_seconds: int = Field(30, ge=10, le=600)
    default_duration_minutes: int = Field(120, ge=10, le=7 * 24 * 60)  # activities made in chat
    default_radius_m: int = Field(300, ge=20, le=50_000)  # a geofence set by sending a location in chat

    @model_validator(mode="after")
    def _late_mark_inside_window(self) -> ActivitySettings:
        if self.late_after_minutes > self.signin_closes_minutes_after:
            raise ValueError("[late_after_minutes] must not be after the window closes "
                             "(signin_closes_minutes_after)")
        return self


class GroupChat(BaseModel):
    """A WeCom group that gets notices too: a group robot webhook or an app group chat."""

    group: str = "*"  # a liaison group's name, or "*" for the committee-wide chat
    robot_key: SecretStr = SecretStr("")
    appchat_id: str = ""

    @model_validator(mode="after")
    def _one_target(self) -> GroupChat:
        if bool(self.robot_key.get_secret_value()) == bool(self.appchat_id):
            raise ValueError("[group_chats] give either robot_key or appchat_id for each chat")
        return self


class NoticeSettings(BaseModel):
    reminder_before_minutes: list[int] = [24 * 60, 60]  # reminders before an activity starts
    last_call: bool = True  # at the opening of sign-in, remind those not signed in yet
    group_chats: list[GroupChat] = []
    year_end_nudge: str = "10-01 09:00"  # MM-DD HH:MM local time; "" disables the nudge
    read_link_days: int = Field(365, ge=1)  # how long a pushed reading link keeps working

    @field_validator("reminder_before_minutes")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(minutes <= 0 for minutes in value):
            raise ValueError("reminders are minutes before the start: positive numbers")
        return sorted(set(value), reverse=True)

    @field_validator("year_end_nudge")
    @classmethod
    def _month_day_time(cls, value: str) -> str:
        if value and not _NUDGE.match(value):
            raise ValueError("write the date as MM-DD HH:MM, e.g. 10-01 09:00, or leave it empty")
        return value


class DutySettings(BaseModel):
    # The assessment rules (bot/data/duty_rules/*.yaml shows two); empty: the shipped county.yaml. The file is
    # checked at start-up by bot.domain.duty_rules.rules_of (the rules are the domain's, not configuration's).
    rules_file: str = ""
    rebuild_at: str = "02:30"  # HH:MM local time: the nightly full rebuild of this year's ledger; "" disables

    @field_validator("rebuild_at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("write the time as HH:MM, e.g. 02:30, or leave it empty")
        return value


_NUDGE = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d$")


class LoggingSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(False, alias="json")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LVZHI_", env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    wechat: WechatSettings = WechatSettings()
    wecom: WecomSettings = WecomSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    conversation: ConversationSettings = ConversationSettings()
    delivery: DeliverySettings = DeliverySettings()
    admin: AdminSettings = AdminSettings()
    console: ConsoleSettings = ConsoleSettings()
    activities: ActivitySettings = ActivitySettings()
    notices: NoticeSettings = NoticeSettings()
    duty: DutySettings = DutySettings()
    logging: LoggingSettings = LoggingSettings()
    locale: Literal["zh_CN", "en"] = "zh_CN"
    media_dir: str = "./var/media"
    report_categories: list[str] = ["经济发展", "社会民生", "生态环境", "文化教育", "医疗卫生", "社会治理", "其他"]

    @model_validator(mode="after")
    def _simulator_stays_private(self) -> Settings:
        if self.simulator.enabled and not self.simulator.allow_public and not _is_loopback(self.server.host):
            raise ValueError(
                "simulator.enabled lets anyone act as any member; set it to false (or simulator.allow_public) "
                f"when server.host is {self.server.host}"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _YamlSource(settings_cls)

    def secret_values(self) -> list[str]:
        """Every configured secret, so logs can hide them."""
        found: list[str] = []
        for section in (self.wechat, self.wecom, self.admin):
            for value in vars(section).values():
                if isinstance(value, SecretStr) and value.get_secret_value():
                    found.append(value.get_secret_value())
        found += [chat.robot_key.get_secret_value() for chat in self.notices.group_chats if chat.robot_key]
        password = self.database.url.partition("://")[2].partition("@")[0].partition(":")[2]
        return [*found, password] if password else found

    @property
    def is_sqlite(self) -> bool:
        return self.database.url.startswith("sqlite")


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by the class variable ``_yaml_path`` set in :func:`load_settings`."""

    path: Path | None = None

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path}: the top level must be a mapping of sections")
        return data


def _require(value: str, key: str) -> None:
    if not value:
        raise ValueError(f"[{key}] required when enabled is true")


def _check_aes_key(value: str, key: str) -> None:
    if len(value) != 43:
        raise ValueError(f"[{key}] must be the 43-character EncodingAESKey (got {len(value)} characters)")
    if not re.fullmatch(r"[A-Za-z0-9+/]{43}", value):
        raise ValueError(f"[{key}] may only hold letters and digits (the platform's Base64 alphabet)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_config_path(cli_path: str | None = None) -> Path:
    return Path(cli_path or os.environ.get("LVZHI_CONFIG") or DEFAULT_CONFIG_PATH)


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Load settings, raising :class:`ConfigError` with one line per the first problem found."""
    config_path = resolve_config_path(str(path) if path else None)
    if path is not None and not config_path.exists():
        raise ConfigError(f"config file {config_path} does not exist")
    _YamlSource.path = config_path
    try:
        return Settings(**overrides)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: not valid YAML ({exc.__class__.__name__})") from exc
    except ValidationError as exc:
        raise ConfigError(_first_error_line(exc)) from exc


def _first_error_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = [str(part) for part in error["loc"]]
    message = error["msg"].removeprefix("Value error, ")
    # Checks across a whole section name their key as "[key] …"
    named = re.match(r"\[(\w+)\] (.*)", message)
    if named:
        location.append(named.group(1))
        message = named.group(2)
    key = ".".join(location) or "config"
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config.yaml)"
    env_name = "LVZHI_" + "__".join(part.upper() for part in location)
    return f"config error: {key}: {message} (set in config.yaml or {env_name})"
