"""RabbitMQ as the broker: the same dispatch and health checks as Redis, over AMQP.

Needs RabbitMQ at 127.0.0.1:5672 (guest/guest); skips with the reason when it is not
there, and fails instead under CI=true.
"""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest

from soundstage.platform.jobs import submit_job
from soundstage.platform.jobs.celery_runner import Dispatcher, make_celery
from soundstage.platform.jobs.registry import RENDER_QUEUE, register_job_type
from soundstage.platform.observability.health import check_broker
from soundstage.platform.observability.metrics import broker_queue_lengths

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture
def amqp_url() -> str:
    check = check_broker(AMQP_URL, timeout_s=3)
    if not check.ok:
        reason = f"RabbitMQ is not reachable at {AMQP_URL}: {check.detail}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return AMQP_URL


def _purge(url: str, queue: str) -> None:
    from kombu import Connection

    with Connection(url) as conn, contextlib.suppress(Exception):  # undeclared: nothing to purge
        conn.default_channel.queue_purge(queue)


def test_jobs_are_sent_to_rabbitmq_after_commit_on_their_queue(amqp_url, db):
    from soundstage.platform.accounts import User

    with db.session() as session:
        user = User(email=f"{uuid.uuid4().hex[:8]}@example.com", password_hash="x")
        session.add(user)
        session.commit()
        owner = user.id
    job_type = f"test.amqp.{uuid.uuid4().hex[:8]}"
    register_job_type(job_type, lambda ctx, payload: None, queue=RENDER_QUEUE)
    celery = make_celery(amqp_url)
    with celery.connection_for_write() as conn:  # declare our queues, then start empty
        for queue in celery.conf.task_queues:
            queue.bind(conn.default_channel).declare()
    _purge(amqp_url, RENDER_QUEUE)
    dispatcher = Dispatcher(celery)
    dispatcher.start()
    try:
        with db.session() as session:
            submit_job(session, job_type, owner, {})
            session.rollback()  # a rolled-back submit sends nothing
        assert broker_queue_lengths(amqp_url, [RENDER_QUEUE])[RENDER_QUEUE] == 0
        with db.session() as session:
            submit_job(session, job_type, owner, {})
            session.commit()
        assert broker_queue_lengths(amqp_url, [RENDER_QUEUE])[RENDER_QUEUE] == 1
    finally:
        dispatcher.stop()
        _purge(amqp_url, RENDER_QUEUE)


def test_healthz_checks_an_amqp_broker(amqp_url, make_client) -> None:
    client = make_client(broker_url=amqp_url)
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["checks"]["broker"]["ok"] is True
