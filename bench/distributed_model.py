#!/usr/bin/env python3
"""The communication model of data-parallel gta train (docs/distributed.md): bytes each
rank sends a GTA step and the all-reduce time of a ring at 25 and 100 Gbit/s, for the
shapes of bench/configs. Standard library only.

  python3 bench/distributed_model.py [bench/configs/qwen2.5-0.5b.json ...]

A GTA step all-reduces two fp32 gradients (g_sft and g_rl, both needed by the gate);
GRPO, GTA(RL) and SFT one. A ring all-reduce of S bytes over N ranks sends
2 (N-1)/N S bytes from each rank in 2 (N-1) messages; ZeRO-1 adds the all-gather of the
updated fp32 parameters, (N-1)/N P bytes. Latency per message: 10 us (the fixed cost; the
bandwidth term dominates for these sizes)."""
import json
import os
import sys


def n_params(c):
    d, ff, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    hd = c.get("head_dim", d // c["num_attention_heads"])
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    bias = c.get("attention_bias", c.get("model_type") == "qwen2")
    layer = d * q + 2 * d * kv + q * d + 3 * d * ff + 2 * d
    if bias:
        layer += q + 2 * kv
    if c.get("model_type") == "qwen3":
        layer += 2 * hd  # q_norm, k_norm
    emb = V * d
    return emb + L * layer + d + (0 if c.get("tie_word_embeddings", False) else emb)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    paths = sys.argv[1:] or [os.path.join(here, "configs", f) for f in ("qwen2.5-0.5b.json", "qwen2.5-3b.json")]
    alpha = 10e-6
    print("| shape | parameters | ranks | ZeRO | bytes sent a step per rank | all-reduce at 25 Gbit/s | at 100 Gbit/s |")
    print("|---|---|---|---|---|---|---|")
    for p in paths:
        c = json.load(open(p))
        P = n_params(c)
        S = 2 * 4 * P  # two fp32 gradients a GTA step
        for N in (8, 64):
            for zero in (0, 1):
                sent = 2 * (N - 1) / N * S + (zero and (N - 1) / N * 4 * P)
                msgs = 2 * 2 * (N - 1) + (zero and (N - 1))
                t25 = sent / (25e9 / 8) + msgs * alpha
                t100 = sent / (100e9 / 8) + msgs * alpha
                print("| %s | %.3fB | %d | %d | %.2f GB | %.2f s | %.2f s |"
                      % (os.path.basename(p)[:-5], P / 1e9, N, zero, sent / 1e9, t25, t100))


if __name__ == "__main__":
    main()
