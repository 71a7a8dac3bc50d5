#!/usr/bin/env python3
"""Markdown tables from bench/run_cpu.sh's JSON lines (stdlib only).

usage: bench/summarize.py results-cpu.jsonl
Each figure is the median over the sitting's repetitions of each run's median; the
ratio compares gta and PyTorch from the same sitting."""
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
TORCH_TRAIN_KEY = "train_B8_T128"


def med(xs):
    return statistics.median(xs) if xs else float("nan")


print("| config | what | gta tok/s | PyTorch tok/s | ratio | gta % of peak | PyTorch % of peak | gta RSS MiB | PyTorch RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|")
for cfg in ("tiny", "small", "q05-4L"):
    for what, weights in (("train", "fp32"), ("generate", "fp32"), ("generate", "bf16")):
        g = [r["result"] for r in rows if r["who"] == "gta" and r["result"].get("what") == what
             and r["result"].get("config") == cfg and "prefix_sharing" not in r["result"]
             and r["result"].get("weights", "fp32") == weights]
        t = [r["result"] for r in rows if r["who"] == "torch" and cfg in r["result"].get("results", {})
             and (TORCH_TRAIN_KEY if what == "train" else "sample_B16_P64_N64") in r["result"]["results"][cfg]]
        if not g or not t:
            continue
        gt = med([x["tokens_per_s"] for x in g])
        if what == "train":
            tt = med([x["results"][cfg][TORCH_TRAIN_KEY]["tok_s"]["median"] for x in t])
            tg = med([x["results"][cfg][TORCH_TRAIN_KEY]["gflops"]["median"] for x in t])
            peak = med([x["peak_gflops"] for x in g])
            gp = f"{100 * med([x['fraction_of_peak'] for x in g]):.0f}%"
            tp = f"{100 * tg / peak:.0f}%"
        else:
            tt = med([x["results"][cfg]["sample_B16_P64_N64"]["gen_tok_s"]["median"] for x in t])
            gp = tp = "–"
        grss = med([x["peak_rss_mib"] for x in g])
        trss = med([x.get("peak_rss_mib", float("nan")) for x in t])
        label = what if weights == "fp32" else f"{what}, bf16 weights"
        print(f"| {cfg} | {label} | {gt:,.0f} | {tt:,.0f} | {gt / tt:.2f}× | {gp} | {tp} | {grss:,.0f} | {trss:,.0f} |")

for r in rows:
    x = r["result"]
    if x.get("what") == "generate" and "prefix_sharing" in x:
        s = x["prefix_sharing"]
        print(f"\nPrefix sharing in sampling ({x['config']}, {x['sequences']} samples of one {x['prompt_tokens']}-token "
              f"prompt, {x['new_tokens']} new tokens): shared {s['shared_tokens_per_s']:,} tok/s vs copies "
              f"{s['copies_tokens_per_s']:,} tok/s ({s['speedup']}×); KV cache {s['shared_kv_mib']} MiB vs "
              f"{s['copies_kv_mib']} MiB.")
    if x.get("what") == "train-prefix":
        print(f"\nGTA step forward+backward ({x['config']}, prompt {x['prompt_tokens']}, G={x['group_size']} × "
              f"{x['completion_tokens']} tokens + gold guess): shared {x['shared_tokens']} tokens in "
              f"{x['shared_seconds']} s vs unshared {x['unshared_tokens']} tokens in {x['unshared_seconds']} s "
              f"({x['speedup']}×).")
    if x.get("what") == "tokenize-hf":
        one = sorted(r["MBps"] for r in x["runs"] if r["mode"] == "one-by-one")
        batch = [r["MBps"] for r in x["runs"] if r["mode"] != "one-by-one"]
        print(f"\nTokenize, Hugging Face tokenizers 0.23.2 (Node binding), same file: one text at a time "
              f"{statistics.median(one)} MB/s, encodeBatch on both cores {batch[0] if batch else '-'} MB/s.")
    if x.get("what") == "tokenize":
        print(f"\nTokenize ({x['tokenizer']}, {x['texts']} texts, one thread): {x['mb_per_s']} MB/s "
              f"(min {x['mb_per_s_min']}, max {x['mb_per_s_max']}).")
