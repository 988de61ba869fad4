"""The rows both sides of the parity bench read: each (task, lang)'s first N rows, from the local copy under
--data-dir or a hand-written fixture, written once as jsonl in the hub schema lm-eval's stock YAML expects."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from core.readers import file_sha256
from eval.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data"
FIXTURES = ROOT / "bench" / "fixtures"
# Our task -> lm-eval's stock YAML ({lang}: our code, {cfg}: the task's hub config name).
LM_EVAL_YAML = {"xcopa": "xcopa/default_{lang}.yaml", "xwinograd": "xwinograd/xwinograd_{cfg}.yaml",
                "xnli": "xnli/xnli_{lang}.yaml", "pawsx": "paws-x/paws_{lang}.yaml",
                "xstorycloze": "xstorycloze/default_{lang}.yaml", "belebele": "belebele/belebele_{cfg}.yaml",
                "mgsm": "mgsm/direct/mgsm_direct_{lang}.yaml"}
# Column types of the hub datasets, which lm-eval's YAML relies on (PAWS-X's `label` must be an int to index
# the choices; the local TSV gives strings); extra columns the YAML reads that the local copy lacks.
HUB_TYPES = {"xnli": {"label": int}, "pawsx": {"label": int}, "xcopa": {"label": int},
             "xwinograd": {"answer": str}, "mgsm": {"answer_number": lambda v: int(v) if re.fullmatch(
                 r"-?\d+", str(v)) else v}}
HUB_EXTRA = {"mgsm": {"answer": None}}  # the test split has no worked answer: lm-eval then prompts "Frage: "

def source_rows(task: str, lang: str, data_dir: Path) -> tuple[Path, object]:
    """(file, rows) of the local copy, else of our fixture; a pair with neither is an error."""
    t = get_task(task)
    fixture = FIXTURES / f"{task}_{t.hub_config(lang)}.jsonl"
    if fixture.is_file():
        return fixture, ((f"{fixture.name}:{i}", json.loads(line)) for i, line in
                         enumerate(fixture.read_text().splitlines(), 1))
    local = t.local(data_dir, lang) if t.local else None
    if local is None or not local[0].exists():
        raise SystemExit(f"{task}/{lang}: no local copy under {data_dir} and no fixture {fixture}")
    return local


def hub_row(task: str, row: dict) -> dict:
    types = HUB_TYPES.get(task, {})
    return {**HUB_EXTRA.get(task, {}), **{k: types[k](v) if k in types and v is not None else v
                                          for k, v in row.items()}}


def write_rows(pairs, data_dir: Path, limits: dict, tmp: Path) -> dict:
    """{pair: {"file", "rows", "source", "sha256"}}: the first `limit` rows of each pair in the hub schema,
    written as the jsonl lm-eval reads (ours reads the same list). Empty PAWS-X rows stay: both sides drop them."""
    out = {}
    for task, lang in pairs:
        path, rows = source_rows(task, lang, data_dir)
        rows = [(where, hub_row(task, row)) for where, row in itertools.islice(rows, limits[task])]
        file = tmp / f"{task}_{lang}.jsonl"
        file.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for _, row in rows))
        out[task, lang] = {"file": file, "rows": rows, "source": str(path.relative_to(ROOT) if path.is_relative_to(
            ROOT) else path), "sha256": file_sha256(path) if path.is_file() else None}
    return out


def lm_eval_configs(written: dict) -> dict:
    """lm-eval's stock task config per pair, reading our jsonl as its test split (no few-shot split)."""
    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    base = Path(lm_eval.__file__).parent / "tasks"
    configs = {}
    for (task, lang), w in written.items():
        yaml = LM_EVAL_YAML[task].format(lang=lang, cfg=get_task(task).hub_config(lang))
        cfg = load_yaml(str(base / yaml))
        cfg.update(task=f"{task}_{lang}_parity", dataset_path="json", dataset_name=None, training_split=None,
                   validation_split=None, fewshot_split=None, test_split="test",
                   dataset_kwargs={"data_files": {"test": str(w["file"])}})
        configs[task, lang] = (yaml, cfg)
    return configs


def parse_pairs(spec: str, data_dir: Path) -> list[tuple[str, str]]:
    """"xnli:de,xcopa" -> pairs; a task without languages means all its languages with rows here."""
    pairs = []
    for part in spec.split(","):
        task, _, lang = part.partition(":")
        t = get_task(task)
        pairs += [(task, lang)] if lang else [(task, code) for code in t.langs if _has_rows(task, code, data_dir)]
    return pairs


def _has_rows(task: str, lang: str, data_dir: Path) -> bool:
    try:
        source_rows(task, lang, data_dir)
    except SystemExit:
        return False
    return True
