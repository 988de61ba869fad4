"""A public app's quotas on background work: jobs per visitor, jobs for the whole app, and disk for all
visitors' runs, with old runs deleted. Each limit reached says which one and what to do."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from core.errors import ConfigError
from playground import jobs
from playground.settings import Settings


def _visitor_dirs(settings: Settings) -> list[Path]:
    root = settings.root_runs_dir / "visitors"
    return [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []


def _running(runs_dir: Path) -> int:
    return sum(jobs.status(j) == "running" for j in jobs.list_jobs(runs_dir))


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _last_change(path: Path) -> float:
    return max((p.stat().st_mtime for p in path.rglob("*")), default=path.stat().st_mtime)


def clean_public_runs(settings: Settings) -> list[str]:
    """Delete visitors' runs older than `keep_days`, then the oldest until the disk quota holds; never a
    visitor with a running job, nor the one asking. Returns the visitor ids deleted."""
    limits, now, gone = settings.limits, time.time(), []
    dirs = sorted(((_last_change(d), d) for d in _visitor_dirs(settings)), key=lambda x: x[0])
    total = sum(_size(d) for _, d in dirs)
    for changed, d in dirs:
        too_old = now - changed > limits.keep_days * 86400
        if (too_old or total > limits.disk_bytes) and d.name != settings.visitor and not _running(d):
            total -= _size(d)
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d.name)
    return gone


def check_job_quota(settings: Settings) -> None:
    """Raise ConfigError naming the limit if a public visitor may not start another job now."""
    if not settings.public:
        return
    limits = settings.limits
    clean_public_runs(settings)
    mine = jobs.list_jobs(settings.runs_dir)
    if sum(jobs.status(j) == "running" for j in mine) >= limits.jobs_per_visitor:
        raise ConfigError(f"You have {limits.jobs_per_visitor} runs going, this public app's limit per visitor: "
                          f"wait for one to finish, or stop one.")
    if len(mine) >= limits.stored_jobs_per_visitor:
        raise ConfigError(f"You have {len(mine)} runs stored, this public app's limit per visitor "
                          f"({limits.stored_jobs_per_visitor}); they are deleted {limits.keep_days:g} days "
                          f"after their last change. Run Polyglot Lab yourself for more.")
    if sum(_running(d) for d in _visitor_dirs(settings)) >= limits.running_jobs:
        raise ConfigError(f"This public app is running {limits.running_jobs} jobs for its visitors, its limit: "
                          f"try again in a few minutes.")
    used = sum(_size(d) for d in _visitor_dirs(settings))
    if used >= limits.disk_bytes:
        raise ConfigError(f"This public app's disk for runs is full ({used / 1e6:,.0f} of "
                          f"{limits.disk_bytes / 1e6:,.0f} MB, all busy): try again later.")
