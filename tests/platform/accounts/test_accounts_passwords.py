"""The password policy: length, common passwords, the email's name, clear messages."""

from __future__ import annotations

import pytest

from soundstage.platform.accounts.password_policy import (
    COMMON_PASSWORDS,
    MIN_PASSWORD_LENGTH,
    PasswordRejected,
    check_password,
)

GOOD = "tidal organ at dusk"


def test_minimum_length_is_ten() -> None:
    assert MIN_PASSWORD_LENGTH == 10
    assert check_password("a" * 9 + "b") == "a" * 9 + "b"
    with pytest.raises(PasswordRejected, match="at least 10 characters"):
        check_password("abcdefgh9")
    with pytest.raises(PasswordRejected, match="at most 1024"):
        check_password("x1" * 513)


@pytest.mark.parametrize("password", ["1234567890", "QWERTYUIOP", " password123 ", "Passw0rd123"])
def test_common_passwords_are_refused_whatever_the_case(password: str) -> None:
    with pytest.raises(PasswordRejected, match="most common passwords"):
        check_password(password)


def test_the_common_list_only_holds_passwords_long_enough_to_matter() -> None:
    assert len(COMMON_PASSWORDS) > 80
    assert all(len(p) >= MIN_PASSWORD_LENGTH for p in COMMON_PASSWORDS)
    assert all(p == p.lower() for p in COMMON_PASSWORDS)


def test_one_repeated_character_is_refused() -> None:
    with pytest.raises(PasswordRejected, match="one character repeated"):
        check_password("zzzzzzzzzzzz")


def test_the_email_name_may_not_be_in_the_password() -> None:
    with pytest.raises(PasswordRejected, match="name of your email"):
        check_password("Ada.Lovelace-1815", "ada.lovelace@example.com")
    # Another name, or a very short one ("me"), is fine.
    assert check_password("Ada.Lovelace-1815", "grace@example.com")
    assert check_password("awesome meteor 7", "me@example.com")
    assert check_password(GOOD, None)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "password: must be at least 10 characters"),
        ("qwertyuiop", "password: is one of the most common passwords"),
        ("my name is ada-lovelace", "password: must not contain the name of your email"),
    ],
)
def test_register_refuses_with_a_message_naming_the_field(client, password, message) -> None:
    body = {"email": "Ada-Lovelace@example.com", "password": password}
    r = client.post("/api/auth/register", json=body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(message)
    assert r.json()["errors"][0]["field"] == "password"
    # Nothing was stored: the same email registers fine with a good password.
    ok = client.post("/api/auth/register", json={**body, "password": GOOD})
    assert ok.status_code == 201, ok.text


def test_unique_emails_ignore_case(client) -> None:
    body = {"email": "grace@example.com", "password": GOOD}
    assert client.post("/api/auth/register", json=body).status_code == 201
    again = client.post("/api/auth/register", json={**body, "email": "GRACE@Example.com"})
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
