"""The training loss where the work is: the LM head only at supervised positions, and a chunked, fused
cross-entropy that never holds the `[tokens x vocab]` logits.

For Gemma 3 the output layer (262k x 640) is most of the model's FLOPs, and prompt tokens are often half of a
row; the plain forward projects every position and keeps fp32 logits (and their gradient) for all of them.
`install` patches the causal LM's forward (as TRL's fused head does) so the call still goes through PEFT and
DDP: `model(**batch, labels=..., num_items_in_batch=n, fused_loss=True)` returns the same loss, and the same
gradients, as the plain forward (tests/test_trainer_speed.py holds both to 1e-5 in fp32).
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass

from trainer.encode import IGNORE

# Rows of a logits chunk: about 128M logits (512 MB in fp32) whatever the vocabulary; larger chunks stream the
# output layer fewer times (Gemma 3's is 671 MB in fp32).
CHUNK_LOGITS = 1 << 27
# Config fields that rescale logits before the softmax; the fused head knows only softcapping, so a model
# with one of these keeps the plain forward.
SCALERS = ("logit_scale", "logits_scaling", "output_multiplier", "lm_head_multiplier")


@dataclass(frozen=True)
class LossHead:
    """How the loss is computed: the LM head at supervised positions only, and/or chunked fused CE."""

    supervised_only: bool = True
    chunked: bool = True

    @property
    def fused(self) -> bool:
        return self.supervised_only or self.chunked


def unsupported(config) -> str | None:
    """Why the fused head cannot reproduce this model's logits (a scaler it does not apply), else None."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    scalers = [name for name in SCALERS if getattr(text, name, None) not in (None, 1, 1.0)]
    return f"{text.model_type} scales its logits ({', '.join(scalers)})" if scalers else None


def install(causal_lm, head: LossHead) -> str | None:
    """Patch `causal_lm.forward` to accept `fused_loss=True` (`head.fused` must hold); returns why not (the plain
    loss is used), or None."""
    reason = unsupported(causal_lm.config)
    if reason:
        return reason
    original = causal_lm.forward
    softcap = getattr(causal_lm.config.get_text_config(), "final_logit_softcapping", None)

    @functools.wraps(type(causal_lm).forward)
    def forward(self, *args, fused_loss=False, labels=None, num_items_in_batch=None, **kwargs):
        if not fused_loss:
            return original(*args, labels=labels, num_items_in_batch=num_items_in_batch, **kwargs)
        from transformers.modeling_outputs import CausalLMOutputWithPast

        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state
        loss = supervised_loss(hidden, labels, self.get_output_embeddings().weight, head, softcap,
                               num_items_in_batch)
        return CausalLMOutputWithPast(loss=loss)

    causal_lm.forward = types.MethodType(forward, causal_lm)
    return None


def supervised_loss(hidden, labels, weight, head: LossHead, softcap: float | None, num_items=None):
    """Summed next-token cross-entropy over labelled positions, divided by `num_items` (default: their count)."""
    import torch.nn.functional as F

    hidden, targets = hidden[:, :-1], labels[:, 1:].to(hidden.device)
    if head.supervised_only:
        keep = targets != IGNORE
        hidden, targets = hidden[keep], targets[keep]
    else:
        hidden, targets = hidden.reshape(-1, hidden.size(-1)), targets.reshape(-1)
    denominator = num_items if num_items is not None else (targets != IGNORE).sum().clamp(min=1)
    if head.chunked:
        total = _fused_function().apply(hidden, weight, targets, softcap)
    else:
        logits = F.linear(hidden, weight).float()
        if softcap:
            logits = logits.div(softcap).tanh().mul(softcap)
        total = F.cross_entropy(logits, targets, ignore_index=IGNORE, reduction="sum")
    return total / denominator


@functools.cache
def _fused_function():
    """The autograd Function (built on first use, so importing this module does not import torch)."""
    import torch

    class FusedLinearCrossEntropy(torch.autograd.Function):
        """sum_i CE(h_i W^T, t_i) in row chunks. The gradient is computed in the forward, chunk by chunk (as
        Liger does), so backward holds only `[tokens x hidden]`, never the logits."""

        @staticmethod
        def forward(ctx, h, w, t, softcap):
            total, grad_h, grad_w = _fused_forward(h, w, t, softcap, w.requires_grad)
            ctx.save_for_backward(grad_h, *([grad_w] if grad_w is not None else []))
            return total

        @staticmethod
        def backward(ctx, grad_out):
            grad_h, *grad_w = ctx.saved_tensors
            return grad_h * grad_out, (grad_w[0] * grad_out if grad_w else None), None, None

    return FusedLinearCrossEntropy


def _fused_forward(h, w, t, softcap, want_grad_w: bool):
    """The summed loss and its gradients with respect to `h` (and `w`), one chunk of rows at a time."""
    import torch

    rows = max(16, CHUNK_LOGITS // w.size(0))
    total = torch.zeros((), dtype=torch.float32, device=h.device)
    grad_h = torch.zeros_like(h, dtype=w.dtype)
    grad_w = torch.zeros_like(w, dtype=torch.float32) if want_grad_w else None
    # One logits buffer for every chunk: a fresh 100+ MB tensor per chunk costs page faults on CPU.
    buffer = torch.empty(min(rows, h.size(0)), w.size(0), dtype=w.dtype, device=h.device)
    # The head's own dtype throughout (QLoRA keeps it fp32 under bf16 hidden states), autocast or not.
    with torch.no_grad(), torch.autocast(h.device.type, enabled=False):
        for start in range(0, h.size(0), rows):
            hc, tc = h[start:start + rows].to(w.dtype), t[start:start + rows]
            valid = tc != IGNORE
            if not bool(valid.any()):
                continue
            z = torch.matmul(hc, w.T, out=buffer[:hc.size(0)]).float()
            if softcap:
                capped = z.div_(softcap).tanh_()
                z = capped * softcap
            safe = tc.clamp(min=0)
            lse = torch.logsumexp(z, dim=-1)
            total += ((lse - z.gather(1, safe[:, None]).squeeze(1)) * valid).sum()
            # d CE / d z = softmax(z) - onehot(t), zero on ignored rows; computed in place on z.
            g = z.sub_(lse[:, None]).exp_()
            g[torch.arange(g.size(0), device=g.device), safe] -= 1
            if not bool(valid.all()):
                g.mul_(valid[:, None])
            if softcap:
                g.mul_(1 - capped.square_())
            g = g.to(w.dtype)
            torch.matmul(g, w, out=grad_h[start:start + rows])
            if grad_w is not None:
                grad_w += (g.T @ hc).float()
    return total, grad_h.to(h.dtype), (grad_w.to(w.dtype) if grad_w is not None else None)
