"""Settings precedence: flags over FIREBOX_* variables over the config file over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from firebox.config import DEFAULT_PORT, ConfigError, Settings, load


def test_defaults() -> None:
    settings = load()
    assert settings == Settings()
    assert settings.port == DEFAULT_PORT
    assert settings.host == "127.0.0.1"
    assert settings.database_path == Path(".firebox/firebox.db")


def test_precedence(tmp_path: Path) -> None:
    config = tmp_path / "firebox.toml"
    config.write_text(
        'port = 1111\nregion = "eu-west-1"\naccount_id = "123456789012"\n[runtimes]\n"python3.99" = "/x"\n'
    )
    environ = {"FIREBOX_CONFIG": str(config), "FIREBOX_PORT": "2222", "FIREBOX_REGION": "eu-central-1"}
    settings = load({"port": 3333, "host": None}, environ)
    assert settings.port == 3333, "a flag beats the environment"
    assert settings.region == "eu-central-1", "the environment beats the file"
    assert settings.account_id == "123456789012", "the file beats the defaults"
    assert settings.runtimes == {"python3.99": "/x"}
    assert settings.host == "127.0.0.1", "a flag left unset changes nothing"


def test_environment_values_are_typed() -> None:
    settings = load(environ={"FIREBOX_UNSAFE_PUBLIC_BIND_WITHOUT_AUTH": "yes", "FIREBOX_RUNTIMES": "python3.12=/p"})
    assert settings.unsafe_public_bind_without_auth is True
    assert settings.runtimes == {"python3.12": "/p"}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FIREBOX_PORT": "x"}, "port must be an integer"),
        ({"FIREBOX_PORT": "70000"}, "out of range"),
        ({"FIREBOX_ACCOUNT_ID": "12"}, "account_id must be 12 digits"),
        ({"FIREBOX_UNSAFE_PUBLIC_BIND_WITHOUT_AUTH": "maybe"}, "must be true or false"),
        ({"FIREBOX_CONCURRENCY_LIMIT": "50"}, "at least 100"),
    ],
)
def test_bad_values(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(environ=environ)


def test_unknown_key_in_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load(config_path=config)
