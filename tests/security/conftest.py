"""The security tests run against the real app with rate limits off (they make many calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundstage.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", rate_limit_enabled=False)
