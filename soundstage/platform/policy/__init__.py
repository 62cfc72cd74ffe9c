"""Content policy (issue 6, seed 003): rules per category, moderation, the job door.

    check_content(settings, {"prompt": text})        # 422 ContentRefused on a refusal
    screen(settings, {"lyrics": text})              # [Finding(...)] for a preview
    admit_job(session, settings, job, {"prompt": text})   # content + budget + moderation

See docs/governance.md.
"""

from soundstage.platform.policy.admission import admit_job
from soundstage.platform.policy.rules import Finding, Policy, RulesError
from soundstage.platform.policy.service import ContentRefused, check_content, load_policy, screen

__all__ = [
    "ContentRefused",
    "Finding",
    "Policy",
    "RulesError",
    "admit_job",
    "check_content",
    "load_policy",
    "screen",
]
