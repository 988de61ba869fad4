"""The `python -m experiments` commands' configs: each is the flags of its subcommand. See core.job_config."""

from __future__ import annotations

from pathlib import Path

from core.job_config import arg, config_dataclass


@config_dataclass
class ListJob:
    """the experiments, their seeds and scales"""


@config_dataclass
class RunJob:
    """run (or resume) an experiment; writes report.md and plots"""

    name: str = arg(help="an experiment in configs/experiments/ (or a YAML path)", positional=True)
    scale: str = arg("cpu", help="cpu (packaged models, minutes on a laptop) or gpu (hub models)")
    out: Path | None = arg(None, help="run directory (default runs/experiments/NAME-SCALE)", identity=False)
    data_dir: Path = arg(Path("."), help="local copies of the datasets", identity=False)
    until: str | None = arg(None, help="stop after the stages starting with this (data, train, export, generate, "
                                       "bench, judge)", identity=False)

    @property
    def run_dir(self) -> Path:
        return self.out or Path("runs/experiments") / f"{Path(self.name).stem}-{self.scale}"


@config_dataclass
class CollectJob:
    """gather finished runs' reports into one results page (docs/results.md)"""

    runs: list[Path] = arg(help="experiment run directories", positional=True)
    out: Path = arg(Path("docs/results.md"), help="the results page to write")
    readme: Path | None = arg(None, help="also rewrite this README's table of measured experiments (between "
                                         "<!-- experiments:begin --> and <!-- experiments:end -->)")


@config_dataclass
class DiffJob:
    """where two runs of the same command differ (timings left out); exit 1 if they do"""

    a: Path = arg(help="a run directory (an experiment's, or one stage's)", positional=True)
    b: Path = arg(help="the other run directory", positional=True)
