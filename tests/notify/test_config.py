"""Where the mail server and the public address come from: site.toml's ``[mail]`` and
``public_url``, the environment over them, the password only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabqueue.notify.links import absolute_link
from fabqueue.notify.smtp import mail_config
from fabqueue.profiles import ProfileErrors, load_profiles
from fabqueue.settings import Settings

MAIL = """
[mail]
host = "smtp.cafe.example"
port = 587
user = "atelier"
from = "Café du Port <atelier@cafe-port.example>"
starttls = true
expiry_notice_days = 5
"""


def test_site_toml_mail_and_the_environment_over_it(
    profiles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = profiles_dir / "site.toml"
    site.write_text(site.read_text() + MAIL)
    profiles = load_profiles(profiles_dir)
    config = mail_config(Settings(), profiles.site)
    assert config is not None
    assert (config.host, config.port, config.user, config.starttls) == (
        "smtp.cafe.example",
        587,
        "atelier",
        True,
    )
    assert config.sender == "Café du Port <atelier@cafe-port.example>"
    assert config.password is None and config.expiry_notice_days == 5

    monkeypatch.setenv("FABQUEUE_MAIL_HOST", "relay.example")
    monkeypatch.setenv("FABQUEUE_MAIL_PASSWORD", "s3cret")
    monkeypatch.setenv("FABQUEUE_MAIL_STARTTLS", "false")
    config = mail_config(Settings(), profiles.site)
    assert config is not None
    assert (config.host, config.port, config.password, config.starttls) == (
        "relay.example",
        587,
        "s3cret",
        False,
    )


def test_no_server_anywhere_means_no_email(profiles_dir: Path) -> None:
    assert mail_config(Settings(), load_profiles(profiles_dir).site) is None


def test_a_password_in_site_toml_is_refused(profiles_dir: Path) -> None:
    site = profiles_dir / "site.toml"
    site.write_text(site.read_text() + MAIL + 'password = "visible"\n')
    with pytest.raises(ProfileErrors, match="password"):
        load_profiles(profiles_dir)


def test_links_start_with_the_public_address_else_the_node(profiles_dir: Path) -> None:
    site = load_profiles(profiles_dir).site
    assert absolute_link(Settings(), site, "/jobs/3") == "https://fab.cafe-port.example/jobs/3"
    node = Settings(host="192.168.1.20", port=8000)
    assert absolute_link(node, None, "jobs/3") == "http://192.168.1.20:8000/jobs/3"
