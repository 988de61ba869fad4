"""A public app's quotas on background work: jobs per visitor, jobs for the whole app, and disk for all
visitors' runs, with old runs deleted. Each limit reached says which one and what to do."""

from __future__ import annotations

import shutil
import stat
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


def _usage(path: Path) -> tuple[float, int]:
    """(last change, bytes) of a visitor's runs, in one walk of its files."""
    stats = [p.stat() for p in path.rglob("*")]
    return (max((st.st_mtime for st in stats), default=path.stat().st_mtime),
            sum(st.st_size for st in stats if stat.S_ISREG(st.st_mode)))


def _clean(settings: Settings) -> tuple[list[str], int]:
    """Delete visitors' runs older than `keep_days`, then the oldest until the disk quota holds; never a
    visitor with a running job, nor the one asking. Returns the visitor ids deleted and the bytes left."""
    limits, now, gone = settings.limits, time.time(), []
    dirs = sorted(((*_usage(d), d) for d in _visitor_dirs(settings)), key=lambda x: x[0])
    total = sum(size for _, size, _ in dirs)
    for changed, size, d in dirs:
        too_old = now - changed > limits.keep_days * 86400
        if (too_old or total > limits.disk_bytes) and d.name != settings.visitor and not _running(d):
            total -= size
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d.name)
    return gone, total


def clean_public_runs(settings: Settings) -> list[str]:
    """Delete old visitors' runs (see `_clean`); returns the visitor ids deleted."""
    return _clean(settings)[0]


def check_job_quota(settings: Settings) -> None:
    """Raise ConfigError naming the limit if a public visitor may not start another job now."""
    if not settings.public:
        return
    limits = settings.limits
    _, used = _clean(settings)
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
    if used >= limits.disk_bytes:
        raise ConfigError(f"This public app's disk for runs is full ({used / 1e6:,.0f} of "
                          f"{limits.disk_bytes / 1e6:,.0f} MB, all busy): try again later.")
