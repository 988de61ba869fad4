"""Save a randomly initialised model of a public architecture, for speed and memory runs on machines that
cannot download weights (the lent GPU machines have no network). Loss values from it mean nothing; steps/s
and memory are those of the real model of that shape.

    python bench/random_model.py --arch smollm2-1.7b --tokenizer DIR --out /tmp/smollm2-1.7b-random
"""

from __future__ import annotations

import argparse

# Shapes from the models' published config.json files.
ARCHS = {
    "smollm2-1.7b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=24, num_attention_heads=32,
                         num_key_value_heads=32, max_position_embeddings=8192, rope_theta=130000.0,
                         tie_word_embeddings=True, vocab_size=49152),
    "tinyllama-1.1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                           num_key_value_heads=4, max_position_embeddings=2048, tie_word_embeddings=False,
                           vocab_size=32000),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=sorted(ARCHS), required=True)
    p.add_argument("--tokenizer", required=True, help="a tokenizer dir whose vocabulary fits the architecture")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    shape = dict(ARCHS[args.arch])
    shape["vocab_size"] = max(shape["vocab_size"], len(tok))
    config = LlamaConfig(**shape, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         torch_dtype="bfloat16")
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(args.out)
    tok.save_pretrained(args.out)
    print(f"{args.arch}: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters -> {args.out}")


if __name__ == "__main__":
    main()
