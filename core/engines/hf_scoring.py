"""Batched log-likelihoods for the hf engine. Requests are sorted by length and left-padded so the output
layer runs only where continuation tokens are predicted (for Gemma's 262k vocabulary that layer costs more than
the model's body). Consecutive requests that share a long prefix (the options of one question: XCOPA's
context, XWinograd's sentence up to the blank) run the prefix once and only their own suffixes on its cache."""

from __future__ import annotations

import torch

from core.engines.base import LoglikelihoodResult, common_prefix

MIN_SHARED = 4  # tokens; a shorter common prefix is not worth a second pass
MAX_GROUP = 8  # requests per shared prefix (a question's options; not a chain of unrelated questions)
Encoded = tuple[list[int], int]  # (context + continuation ids, number of continuation tokens)


def prefix_groups(encoded: list[Encoded]) -> list[tuple[int, list[int]]]:
    """Runs of consecutive requests whose inputs (ids[:-1]) share >= MIN_SHARED leading tokens, each with the
    shared length (< every member's input length); a request that shares nothing is a group of one."""
    groups: list[tuple[int, list[int]]] = []
    for i, (ids, _) in enumerate(encoded):
        inputs = ids[:-1]
        if groups and len(groups[-1][1]) < MAX_GROUP:
            shared, members = groups[-1]
            first = encoded[members[0]][0]
            p = min(common_prefix(first, inputs), shared, len(inputs) - 1)
            if p >= MIN_SHARED:
                groups[-1] = (p, members + [i])
                continue
        groups.append((len(inputs) - 1, [i]))  # a prefix must leave every member one token of its own
    return groups


def _result(rows: torch.Tensor, targets: list[int]) -> LoglikelihoodResult:
    logp = torch.log_softmax(rows.float(), dim=-1)
    target = torch.tensor(targets)
    picked = logp.gather(1, target[:, None]).squeeze(1)
    return LoglikelihoodResult(float(picked.sum()), bool((logp.argmax(-1) == target).all()))


def _left_padded(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, s in enumerate(seqs):
        ids[row, width - len(s):] = torch.tensor(s)
        mask[row, width - len(s):] = 1
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


def score_plain(model, encoded: list[Encoded], batch: list[int], device: str, out: list,
                twins: dict[int, list[int]] | None = None) -> None:
    """One forward pass over whole requests; logits only for the last `keep` positions of each row. A request's
    `twins` (the same input, other targets) are read off its row."""
    ids, mask, positions = _left_padded([encoded[i][0][:-1] for i in batch])
    keep = max(encoded[i][1] for i in batch)
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                   logits_to_keep=keep).logits.cpu()
    for row, i in enumerate(batch):
        n_cont = encoded[i][1]
        for j in (i, *(twins or {}).get(i, ())):
            out[j] = _result(logits[row, keep - n_cont:], encoded[j][0][-n_cont:])


def score_shared(model, encoded: list[Encoded], groups: list[tuple[int, list[int]]], device: str, out: list,
                 rows_per_pass: int) -> None:
    """Prefixes once (with their cache), then the members' suffixes, sorted by length so that little of a
    pass is padding, `rows_per_pass` at a time, each on a copy of its group's prefix cache."""
    import copy

    prefixes = [encoded[members[0]][0][:p] for p, members in groups]
    # Prefix positions that predict a continuation token (an option may share its first scored tokens).
    need = max(max(1, p - min(len(encoded[i][0]) - 1 - encoded[i][1] for i in members)) for p, members in groups)
    ids, mask, positions = _left_padded(prefixes)
    first = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                  use_cache=True, logits_to_keep=need)
    prefix_logits = first.logits.cpu()
    members = sorted(((g, i) for g, (_, ms) in enumerate(groups) for i in ms),
                     key=lambda gi: -(len(encoded[gi[1]][0]) - 1 - groups[gi[0]][0]))
    for c in range(0, len(members), rows_per_pass):
        chunk = members[c:c + rows_per_pass]
        owner = [g for g, _ in chunk]
        cache = copy.deepcopy(first.past_key_values) if c + rows_per_pass < len(members) else first.past_key_values
        cache.reorder_cache(torch.tensor(owner, device=device))  # one copy of its group's prefix per row
        suffixes = [encoded[i][0][groups[g][0]:-1] for g, i in chunk]
        width = max(len(x) for x in suffixes)
        sfx = torch.zeros((len(chunk), width), dtype=torch.long)
        sfx_mask = torch.zeros_like(sfx)
        sfx_pos = torch.zeros_like(sfx)
        for row, (x, g) in enumerate(zip(suffixes, owner)):
            sfx[row, :len(x)] = torch.tensor(x)
            sfx_mask[row, :len(x)] = 1
            sfx_pos[row] = groups[g][0] + torch.arange(width)
        full_mask = torch.cat([mask[owner], sfx_mask], dim=1)
        logits = model(input_ids=sfx.to(device), attention_mask=full_mask.to(device),
                       position_ids=sfx_pos.to(device), past_key_values=cache, use_cache=False).logits.cpu()
        for row, (g, i) in enumerate(chunk):
            p = groups[g][0]
            seq, n_cont = encoded[i]
            start = len(seq) - 1 - n_cont  # the position whose logits predict the first continuation token
            picked = [prefix_logits[g, need - (p - t)] if t < p else logits[row, t - p]
                      for t in range(start, len(seq) - 1)]
            out[i] = _result(torch.stack(picked), seq[-n_cont:])


def score(model, encoded: list[Encoded], batch_size: int, device: str) -> list[LoglikelihoodResult]:
    """Log-likelihood and greediness of each (ids, n_cont); groups with a shared prefix take the two-pass path."""
    out: list = [None] * len(encoded)
    # Requests with the same input and continuation length (a classifier's labels "0"/"1"/"2" after one prompt)
    # differ only in the targets: run the first, read the others off its logits.
    first: dict[tuple, int] = {}
    twins: dict[int, list[int]] = {}
    for i, (ids, n_cont) in enumerate(encoded):
        j = first.setdefault((tuple(ids[:-1]), n_cont), i)
        if j != i:
            twins.setdefault(j, []).append(i)
    read_off = {j for js in twins.values() for j in js}
    rest = [i for i in range(len(encoded)) if i not in twins and i not in read_off]
    groups = [(p, [rest[m] for m in members]) for p, members in prefix_groups([encoded[i] for i in rest])]
    shared = [g for g in groups if len(g[1]) > 1]
    single = sorted([*(g[1][0] for g in groups if len(g[1]) == 1), *twins], key=lambda i: -len(encoded[i][0]))
    shared.sort(key=lambda g: -g[0])  # by prefix length: the prefix pass pads little, the suffixes sort apart
    for b in range(0, len(single), batch_size):
        score_plain(model, encoded, single[b:b + batch_size], device, out, twins)
    for b in range(0, len(shared), batch_size):
        score_shared(model, encoded, shared[b:b + batch_size], device, out, batch_size)
    return out
