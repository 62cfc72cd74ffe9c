"""Real processes: `soundstage serve` on a free loopback port with its own data folder,
and (scale-out) `soundstage worker` processes, with the Redis broker they share."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

SOUNDSTAGE = Path(sys.executable).with_name("soundstage")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessControl:
    """kill and stop for a `soundstage` child process kept in `self.process`."""

    process: subprocess.Popen | None

    def kill(self) -> None:
        """kill -9: no cleanup, as in a power cut or an OOM kill (a worker cannot give its
        job back)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown; Celery's warm one), then kill -9 if it does not exit."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Server(ProcessControl):
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # extra SOUNDSTAGE_* values

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60) -> None:
        env = {**os.environ, "SOUNDSTAGE_DATA_DIR": str(self.data_dir), "SOUNDSTAGE_PORT": str(self.port),
               "SOUNDSTAGE_JOB_RETRY_BASE_S": "0.1", **self.env}  # fmt: skip
        self.log = self.data_dir.parent / f"server-{self.port}-{int(time.time() * 1000)}.log"
        self.process = subprocess.Popen(
            [str(SOUNDSTAGE), "serve"],
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    srv.start()
    yield srv
    srv.stop()


def login(
    url: str, email: str = "creator@example.com", password: str = "long-password-1"
) -> dict[str, str]:
    httpx.post(f"{url}/api/auth/register", json={"email": email, "password": password})
    tokens = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": password}).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


# -- scale-out: workers and the broker ------------------------------------------------

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@dataclass
class Worker(ProcessControl):
    """A `soundstage worker` process (Celery) with its own data folder, like another machine."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    threads: int = 1
    process: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = 60) -> None:
        """Start the worker and wait until Celery says it is ready to take messages."""
        self.launch()
        self.wait_ready(timeout_s)

    def launch(self) -> None:
        """Start the process without waiting (several workers boot at once)."""
        env = {**os.environ, "SOUNDSTAGE_DATA_DIR": str(self.data_dir), **self.env}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.data_dir / "worker.log"
        self.process = subprocess.Popen(
            [str(SOUNDSTAGE), "worker", "--threads", str(self.threads)],
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 60) -> None:
        assert self.process is not None and self.log is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-2000:]}")
            if " ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start: {self.log.read_text()[-2000:]}")


def redis_or_skip(db_number: int):
    """A client of Redis database `db_number` on 127.0.0.1:6379, flushed; skip (fail under
    CI=true) when Redis does not answer."""
    import redis

    client = redis.Redis(REDIS_HOST, REDIS_PORT, db=db_number, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT} ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true requires the Redis tests to run")
        pytest.skip(reason)
    client.flushdb()
    return client


def redis_url(db_number: int) -> str:
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db_number}"
