"""Training checkpoints that hold only what training changes: the trainable (adapter) weights, the
optimizer and scheduler states, the RNG states and the step. A 7B base is never copied into a checkpoint.

Each checkpoint is written to a temp dir and renamed (`core.run_dir.atomic_dir`), so a kill during the
write leaves the previous checkpoint as the latest one.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from core.run_dir import atomic_dir

STATE = "trainer_state.json"


def latest(out: Path) -> Path | None:
    """The newest complete checkpoint under out/checkpoints, or None."""
    ckpts = sorted((out / "checkpoints").glob("step-*[0-9]"), key=lambda p: int(p.name.split("-")[1]))
    return ckpts[-1] if ckpts else None


def save(accelerator, model, optimizer, scheduler, out: Path, step: int, keep: int, train_tokens: int = 0) -> Path:
    """Write the checkpoint of `step` (with the tokens trained up to it, so a resumed run's total counts them)."""
    import numpy as np
    import torch
    from safetensors.torch import save_file

    final = out / "checkpoints" / f"step-{step}"
    if accelerator.is_main_process:
        with atomic_dir(final) as tmp:  # replaces a `final` left by a run that died after this step's rename
            unwrapped = accelerator.unwrap_model(model)
            trainable = {n: p.detach().cpu().contiguous() for n, p in unwrapped.named_parameters() if p.requires_grad}
            save_file(trainable, str(tmp / "trainable.safetensors"))
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optim.pt")
            rng = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                   "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
            torch.save(rng, tmp / "rng.pt")
            (tmp / STATE).write_text(json.dumps({"step": step, "train_tokens": train_tokens}))
        for old in sorted(final.parent.glob("step-*[0-9]"), key=lambda p: int(p.name.split("-")[1]))[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def load(accelerator, model, optimizer, scheduler, ckpt: Path) -> int:
    """Restore a checkpoint into the (prepared) model, optimizer and scheduler; return its step."""
    import numpy as np
    import torch
    from safetensors.torch import load_file

    trainable = load_file(str(ckpt / "trainable.safetensors"))
    params = dict(accelerator.unwrap_model(model).named_parameters())
    missing = set(trainable) ^ {n for n, p in params.items() if p.requires_grad}
    if missing:
        from core.errors import ConfigError

        raise ConfigError(f"{ckpt} does not match this model's trainable weights (e.g. {sorted(missing)[:3]}); "
                           f"resume with the config the checkpoint was written with.")
    with torch.no_grad():
        for name, value in trainable.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))
    states = torch.load(ckpt / "optim.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(states["optimizer"])
    scheduler.load_state_dict(states["scheduler"])
    rng = torch.load(ckpt / "rng.pt", map_location="cpu", weights_only=False)
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return json.loads((ckpt / STATE).read_text())["step"]


def tokens_before(ckpt: Path) -> int:
    """The tokens trained up to checkpoint `ckpt` (0 for a checkpoint written before they were kept)."""
    return json.loads((ckpt / STATE).read_text()).get("train_tokens", 0)
