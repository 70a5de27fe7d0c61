"""Configuration: the shipped file, environment overrides, and one clear line (exit 2) for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from bot.infra.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_config_loads_with_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LVZHI_CONFIG", raising=False)
    settings = load_settings(ROOT / "config.yaml")
    assert settings.server.host == "127.0.0.1" and settings.server.port == 8080
    assert settings.database.url.startswith("sqlite+aiosqlite:///./var/")
    assert settings.scheduler.timezone == "Asia/Shanghai"
    assert settings.locale == "zh_CN"
    assert not settings.wechat.enabled and settings.simulator.enabled


def test_every_key_of_the_shipped_config_has_a_comment() -> None:
    for number, line in enumerate((ROOT / "config.yaml").read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if ":" in stripped and not stripped.startswith("#") and not stripped.endswith(":"):
            assert "#" in line, f"config.yaml line {number} has no comment: {line}"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  port: 9000\nwechat:\n  token: from-file\n", encoding="utf-8")
    monkeypatch.setenv("LVZHI_SERVER__PORT", "9100")
    monkeypatch.setenv("LVZHI_WECHAT__TOKEN", "from-env")
    settings = load_settings(config)
    assert settings.server.port == 9100
    assert settings.wechat.token.get_secret_value() == "from-env"


def test_lvzhi_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text("locale: en\n", encoding="utf-8")
    monkeypatch.setenv("LVZHI_CONFIG", str(config))
    assert load_settings().locale == "en"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("server:\n  port: 99999\n", "server.port"),
        ("server:\n  port: eighty\n", "server.port"),
        ("database:\n  url: mysql://x\n", "database.url"),
        ("wechat:\n  enabled: true\n  token: t\n  app_id: wx1\n  encoding_aes_key: short\n", "wechat.encoding_aes_key"),
        ("wechat:\n  enabled: true\n", "wechat"),
        ("wecom:\n  enabled: true\n  corp_id: ww\n", "wecom"),
        ("scheduler:\n  timezone: Mars/Olympus\n", "scheduler.timezone"),
        ("locale: fr\n", "locale"),
        ("servr:\n  port: 1\n", "servr"),
        ("server:\n  host: 0.0.0.0\n", "simulator.enabled"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, content: str, expected: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("server:\n  port: -1\n", encoding="utf-8")
    assert main(["--config", str(config), "db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "server.port" in err and "Traceback" not in err


def test_cli_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.yaml"), "db", "upgrade"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_broken_yaml_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("server: [unclosed\n", encoding="utf-8")
    assert main(["--config", str(config), "db", "upgrade"]) == 2
    assert "not valid YAML" in capsys.readouterr().err
