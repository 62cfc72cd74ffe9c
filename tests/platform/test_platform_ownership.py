"""get_owned: another user's row is indistinguishable from a missing one."""

from __future__ import annotations

import pytest

from soundstage.platform.accounts import User
from soundstage.platform.errors import NotFound
from soundstage.platform.jobs import Job
from soundstage.platform.ownership import get_owned


def test_get_owned_hides_other_users_rows(app, client, make_user):
    owner, other = make_user(), make_user()
    with app.state.db.session() as session:
        job = Job(type="t", owner_id=owner.id, payload={})
        session.add(job)
        session.commit()
        assert get_owned(session, Job, job.id, owner.id, "job") is job
        for who, job_id in ((other.id, job.id), (owner.id, "missing")):
            with pytest.raises(NotFound, match="job not found"):
                get_owned(session, Job, job_id, who, "job")
        assert session.get(User, owner.id) is not None
