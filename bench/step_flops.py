#!/usr/bin/env python3
"""The linear products' FLOPs of one GRPO step, gta's and the PyTorch baseline's
(../shared/bench/torch_grpo_step.py), for a bench config and shape: what each side must
multiply at the least, so that a step's seconds read as a rate (GFLOP/s) and a ratio of
two steps splits into the work each does and the rate it does it at.

    bench/step_flops.py --config q05-4L [--prompts 2 --group 16 --prompt-len 256 --new 64 --iterations 4]
    bench/step_flops.py --config small --seconds 19.37 --torch-seconds 93.56

Counted: the layers' products (q, k, v, o, gate, up, down) and the head's (logits, and in
training dx and dW), 2 FLOPs a multiply-add; backward twice forward. Not counted:
attention's score products, norms, softmax, the optimizer (small beside them here).
gta: the tree batch (each prompt once, P*L + P*G*N rows through the layers), logits only
for the P*G*N completion tokens, old log-probs from the first update (no pass), a
reference pass, a shared-prefix decode (P prompt prefills). PyTorch: P*G rows of L + N
tokens through the layers in each pass, logits for the N completion tokens
(logits_to_keep), an old and a reference pass, P*G prompt prefills.
"""
import argparse

CONFIGS = {  # bench/configs and src/bench/bench_train.c: vocab, d, layers, heads, kv heads, ffn
    "tiny": (8192, 256, 4, 4, 2, 768),
    "small": (32768, 512, 8, 8, 4, 1536),
    "q05-4L": (151936, 896, 4, 14, 2, 4864),
    "q05": (151936, 896, 24, 14, 2, 4864),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="small", choices=sorted(CONFIGS))
    ap.add_argument("--prompts", type=int, default=2)
    ap.add_argument("--group", type=int, default=16)
    ap.add_argument("--prompt-len", type=int, default=256)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--seconds", type=float, help="gta's step: print its GFLOP/s")
    ap.add_argument("--torch-seconds", type=float, help="the PyTorch step: print its GFLOP/s")
    a = ap.parse_args()
    V, d, nl, H, KV, f = CONFIGS[a.config]
    hd = d // H
    layer = d * (H * hd + 2 * KV * hd) + H * hd * d + d * 2 * f + f * d  # MACs a token
    trunk, head = nl * layer, d * V
    P, G, L, N, U = a.prompts, a.group, a.prompt_len, a.new, a.iterations
    S = P * G
    # a pass over the batch: layers for `rows` tokens, the head for `heads` rows
    def fwd(rows, heads):
        return rows * trunk + heads * head

    decode = (N - 1) * S * (trunk + head)  # the first token comes from the prefill's last row
    g_tree, g_comp = P * L + S * N, S * N
    gta = {
        "generate": fwd(P * L, P) + decode,
        "ref_logps": fwd(g_tree, g_comp),
        "updates": U * 3 * fwd(g_tree, g_comp),
    }
    t_rows = S * (L + N)
    torch = {
        "generate": fwd(S * L, S) + decode,
        "old_logps": fwd(t_rows, g_comp),
        "ref_logps": fwd(t_rows, g_comp),
        "updates": U * 3 * fwd(t_rows, g_comp),
    }
    # the head's share of gta's products: every head row of each pass
    g_head = head * (P + (N - 1) * S + g_comp + U * 3 * g_comp)
    tf = lambda m: 2 * m / 1e12
    gt, tt = tf(sum(gta.values())), tf(sum(torch.values()))
    print(f"{a.config}, {P} x {G}, {L} + {N}, U = {U}: the products' TFLOP of one step")
    for k in ("generate", "old_logps", "ref_logps", "updates"):
        print(f"  {k:10s} gta {tf(gta.get(k, 0)):7.3f}   PyTorch {tf(torch.get(k, 0)):7.3f}")
    print(f"  {'total':10s} gta {gt:7.3f}   PyTorch {tt:7.3f}   PyTorch / gta {tt / gt:.2f}x")
    print(f"  the head's products: {tf(g_head):.3f} TFLOP, {100 * tf(g_head) / gt:.0f}% of gta's")
    if a.seconds:
        print(f"  gta at {a.seconds:.2f} s: {gt * 1e3 / a.seconds:.0f} GFLOP/s")
    if a.torch_seconds:
        print(f"  PyTorch at {a.torch_seconds:.2f} s: {tt * 1e3 / a.torch_seconds:.0f} GFLOP/s")
    if a.seconds and a.torch_seconds:
        print(f"  ratio {a.torch_seconds / a.seconds:.2f}x = work {tt / gt:.2f}x * rate "
              f"{(gt / a.seconds) / (tt / a.torch_seconds):.2f}x")


if __name__ == "__main__":
    main()
