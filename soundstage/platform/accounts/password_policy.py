"""The password policy: long enough, not a well-known password, not built from the email.

Length matters most; the list below catches the passwords that are long enough
yet guessed first by every cracking tool (keyboard walks, counting, "password"
with digits). Comparison ignores case and surrounding spaces. Messages say what
to change, for the API's 422 and the register page alike.
"""

from __future__ import annotations

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MIN_LOCAL_PART = 3  # shorter email names ("me@…") would refuse too many good passwords

# Passwords of 10+ characters found at the top of public breach corpora.
_COMMON = """
    1234567890 0123456789 0987654321 9876543210 12345678910 123456789a 123456789q
    1234567890a 1234567890q 12345678901 123123123123 1231231231 1111111111 0000000000
    2222222222 5555555555 7777777777 8888888888 9999999999 1212121212 1122334455
    1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx3edc q1w2e3r4t5 q1w2e3r4t5y6 zaq12wsxcde3
    qwertyuiop qwertyuiop123 qwerty1234 qwerty12345 qwerty123456 qwertyqwerty asdfghjkl1
    asdfghjkl; asdfasdfasdf zxcvbnm123 zxcvbnmasdf 1qazxsw23edc qazwsxedcrfv
    password12 password123 password1234 password12345 password123456 password1!
    password123! passw0rd123 p@ssw0rd123 passwordpassword mypassword1 mypassword123
    iloveyou12 iloveyou123 iloveyou1234 letmein123 letmeinnow welcome123 welcome1234
    welcometo1 administrator admin12345 admin123456 administrator1 rootpassword
    changeme123 changemenow trustno1trustno1 football123 baseball123 basketball
    basketball1 superman123 batman1234 starwars123 princess123 sunshine123 monkey1234
    dragon1234 master1234 shadow1234 michael123 jennifer123 charlie123 computer123
    internet123 whatever123 abcdefghij abcdefghijk abcd123456 abc1234567 a1b2c3d4e5
    aaaaaaaaaa abcabcabc123 123456abcdef 1234qwerasdf 1234abcd1234 qwer1234asdf
    soundstage soundstage1 soundstage123 correcthorsebatterystaple
"""
COMMON_PASSWORDS = frozenset([*_COMMON.split(), "correct horse battery staple"])


class PasswordRejected(ValueError):
    """The password breaks the policy; the message says what to change."""


def _email_name(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    name = email.strip().lower().split("@", 1)[0]
    return name if len(name) >= MIN_LOCAL_PART else None


def check_password(password: str, email: str | None = None) -> str:
    """Return `password` when the policy accepts it; raise PasswordRejected saying why not."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejected(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.strip().lower()
    if len(set(folded)) == 1:
        raise PasswordRejected("must not be one character repeated")
    if folded in COMMON_PASSWORDS:
        raise PasswordRejected("is one of the most common passwords; choose a less guessable one")
    name = _email_name(email)
    if name and name in folded:
        raise PasswordRejected("must not contain the name of your email address")
    return password
