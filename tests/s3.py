"""An S3-compatible server for tests: moto's ThreadedMotoServer on a free loopback port.

One server and one bucket per test process, started on first use. Tests keep apart by key
prefix (`s3://bucket/<prefix>`). Credentials are dummies passed explicitly, and the AWS
environment (profiles, config files, real keys) is hidden while the server runs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

BUCKET = "soundstage-test"
REGION = "us-east-1"
ACCESS_KEY_ID = "test-access-key"
SECRET_ACCESS_KEY = "test-secret-access-key"

# Variables that could point boto3 at real accounts or files; replaced while tests run.
_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    "AWS_SESSION_TOKEN": None,
    "AWS_SECURITY_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_DEFAULT_PROFILE": None,
    "AWS_ENDPOINT_URL": None,
    "AWS_ENDPOINT_URL_S3": None,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


class MotoS3:
    """A moto S3 server with one bucket; `client()` talks to it, `overrides()` configures apps."""

    def __init__(self) -> None:
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self.endpoint_url = ""

    def start(self) -> MotoS3:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self._hide_aws_environment()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def _hide_aws_environment(self) -> None:
        for name, value in _AWS_ENV.items():
            self._saved_env[name] = os.environ.get(name)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def client(self) -> Any:
        """A boto3 client on the server (path-style, SigV4), for setting up and checking."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def overrides(
        self, prefix: str | None = None, *, presigned_links: bool = True
    ) -> dict[str, object]:
        """Settings values that store files under `s3://BUCKET/<prefix>` on this server."""
        prefix = prefix or f"t-{uuid.uuid4().hex[:16]}"
        return {
            "storage_url": f"s3://{BUCKET}/{prefix}",
            "s3_endpoint_url": self.endpoint_url,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY_ID,
            "s3_secret_access_key": SECRET_ACCESS_KEY,
            "s3_presigned_links": presigned_links,
        }


def prefix_for(data_dir: Path) -> str:
    """A key prefix per data folder: an app restarted on the same folder finds its files."""
    return "t-" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]


_shared: MotoS3 | None = None
_lock = threading.Lock()


def shared_server() -> MotoS3:
    """The process's moto server, started on first use (stopped by `stop_shared_server`)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = MotoS3().start()
        return _shared


def stop_shared_server() -> None:
    global _shared
    with _lock:
        if _shared is not None:
            _shared.stop()
            _shared = None
