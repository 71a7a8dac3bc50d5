#!/usr/bin/env python3
"""Tables of the study (scripts/study.sh) from its run directories, in markdown:
Table 2 (Base / SFT / GRPO / GTA per dataset), Table 3 (GRPO / GTA (RL) / GTA (SFT+RL) on
SST-5), the convergence of the training rewards (Figure 5 in numbers), the long SST-5 pair
(Figure 6 in numbers) and the guess-versus-answer counts. Every number is read from a
file named under its table, so it can be traced to the run that produced it.

usage: scripts/study_tables.py OUT   (OUT as given to scripts/study.sh)"""
import json
import os
import sys

NAMES = {"sst5": "SST-5", "massive_scenario": "Amazon (MASSIVE)", "emotion": "Emotion",
         "bbc_news": "BBC News"}
DATASETS = list(NAMES)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def lines(path):
    out = []
    try:
        with open(path) as f:
            for l in f:
                try:
                    out.append(json.loads(l))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def pct(x):
    return "–" if x is None else f"{100 * x:.2f}"


def cell(out, ds, name, key):
    e = load(os.path.join(out, "runs", ds, name, "eval.json"))
    return None if e is None else e.get(key)


def bold_best(vals):
    best = max((v for v in vals if v is not None), default=None)
    return [("**" + pct(v) + "**") if v is not None and v == best else pct(v) for v in vals]


def table(out, rows, cols, title_cols):
    """rows: [(label, ds)], cols: run names. Acc row and F1 row per dataset."""
    s = "| Dataset | Metric | " + " | ".join(title_cols) + " |\n"
    s += "|---|---|" + "---|" * len(cols) + "\n"
    for label, ds in rows:
        for key, mname in (("accuracy", "Acc"), ("f1_weighted", "F1")):
            vals = [cell(out, ds, c, key) for c in cols]
            s += f"| {label} | {mname} | " + " | ".join(bold_best(vals)) + " |\n"
    return s


def sources(out, pairs):
    s = ""
    for ds, name in pairs:
        p = os.path.join(out, "runs", ds, name, "eval.json")
        e = load(p)
        shown = os.path.relpath(p)
        if e is None:
            s += f"- `{shown}`: missing\n"
        else:
            s += (f"- `{shown}`: n = {e['n']}, accuracy {pct(e['accuracy'])}, weighted F1 "
                  f"{pct(e['f1_weighted'])}, format ok {pct(e.get('format_ok_rate'))}\n")
    return s


def quarters(rows, key):
    if not rows:
        return None
    q = max(1, len(rows) // 4)
    parts = [rows[:q], rows[q:2 * q], rows[2 * q:3 * q], rows[3 * q:]]
    return [sum(r.get(key, 0) for r in p) / len(p) if p else None for p in parts]


def first_step_reaching(rows, key, level, window):
    """first step whose trailing mean over `window` steps reaches `level`"""
    for i in range(len(rows)):
        lo = max(0, i - window + 1)
        m = sum(r.get(key, 0) for r in rows[lo:i + 1]) / (i + 1 - lo)
        if i + 1 >= window and m >= level:
            return rows[i]["step"]
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/study_tables.py OUT")
    out = sys.argv[1]
    print("## Table 2: accuracy and weighted F1 (%) on the test subsets\n")
    rows = [(NAMES[d], d) for d in DATASETS]
    print(table(out, rows, ["base", "base-gta", "sft", "sft-steps", "grpo", "gta"],
                ["Base", "Base (GTA prompt)", "SFT", "SFT (same steps)", "GRPO", "GTA"]))
    maj = []
    for d in DATASETS:
        try:
            with open(os.path.join(out, "data", d, "test.jsonl")) as f:
                labels = [json.loads(l)["label"] for l in f if l.strip()]
        except (OSError, ValueError, KeyError):
            continue
        top = max(set(labels), key=labels.count)
        share = labels.count(top) / len(labels)
        maj.append(f"{NAMES[d]} {pct(share)} ({top}; weighted F1 {pct(share * 2 * share / (1 + share))})")
    if maj:
        print("Always answering the majority class of the test subset scores: " + ", ".join(maj) + ".\n")
    print("SFT: the same examples for the same epochs as the RL methods (the paper's protocol); "
          "SFT (same steps): as many optimizer steps as the RL methods, who take 4 per batch.\n")
    print("Sources (`gta eval --out`):\n")
    print(sources(out, [(d, n) for d in DATASETS for n in ("base", "base-gta", "sft", "sft-steps", "grpo", "gta")]))

    print("## Table 3: the supervised guess (SST-5, accuracy and weighted F1 %)\n")
    s = "| Metric | GRPO | GTA (RL) | GTA (SFT+RL) |\n|---|---|---|---|\n"
    for key, mname in (("accuracy", "Acc"), ("f1_weighted", "F1")):
        vals = [cell(out, "sst5", c, key) for c in ("grpo", "gta-rl", "gta")]
        s += f"| {mname} | " + " | ".join(bold_best(vals)) + " |\n"
    print(s)
    print("Sources:\n")
    print(sources(out, [("sst5", n) for n in ("grpo", "gta-rl", "gta")]))

    print("## Convergence of the training reward (Figure 5 in numbers)\n")
    print("Mean accuracy reward over each quarter of the optimizer steps (`reward_accuracy`, and "
          "`guess_accuracy` for the guess of GTA), from each run's `metrics.jsonl`.\n")
    print("| Dataset | Run | Q1 | Q2 | Q3 | Q4 | first step above 0 | first step at 0.5 (mean of 16) |\n"
          "|---|---|---|---|---|---|---|---|")
    for ds in DATASETS:
        for name, key, label in (("grpo", "reward_accuracy", "GRPO answer"),
                                 ("gta", "reward_accuracy", "GTA answer"),
                                 ("gta", "guess_accuracy", "GTA guess"),
                                 ("gta-rl", "reward_accuracy", "GTA (RL) answer"),
                                 ("gta-rl", "guess_accuracy", "GTA (RL) guess")):
            m = lines(os.path.join(out, "runs", ds, name, "metrics.jsonl"))
            if not m:
                continue
            q = quarters(m, key)
            st = first_step_reaching(m, key, 0.5, 16)
            s0 = next((r["step"] for r in m if r.get(key, 0) > 0), None)
            print(f"| {NAMES[ds]} | {label} | " + " | ".join(f"{v:.3f}" for v in q) +
                  f" | {s0 if s0 is not None else 'never'} | {st if st is not None else 'never'} (of {len(m)}) |")
    print()

    print("## Long runs on SST-5 (Figure 6 in numbers)\n")
    g = lines(os.path.join(out, "runs", "sst5", "grpo-long", "eval.jsonl"))
    t = lines(os.path.join(out, "runs", "sst5", "gta-long", "eval.jsonl"))
    gs = {r["step"]: r for r in g}
    ts = {r["step"]: r for r in t}
    if gs or ts:
        n = (t or g)[0].get("n")
        print(f"Accuracy (%) on the first {n} examples of the test subset during training "
              "(`eval.jsonl`; the final models' full-subset results are below).\n")
        print("| step | GRPO Acc | GTA Acc | GRPO F1 | GTA F1 |\n|---|---|---|---|---|")
        for step in sorted(set(gs) | set(ts)):
            a, b = gs.get(step, {}), ts.get(step, {})
            print(f"| {step} | {pct(a.get('accuracy'))} | {pct(b.get('accuracy'))} | "
                  f"{pct(a.get('f1_weighted'))} | {pct(b.get('f1_weighted'))} |")
        print()
    print(sources(out, [("sst5", "grpo-long"), ("sst5", "gta-long")]))

    print("## Guess versus answer (GTA, test subsets)\n")
    print("| Dataset | guess acc | answer acc | answer differs from guess | corrected | broken | "
          "both wrong, different |\n|---|---|---|---|---|---|---|")
    for ds in DATASETS:
        for name in ("gta", "gta-rl", "gta-long"):
            e = load(os.path.join(out, "runs", ds, name, "eval.json"))
            if e is None or "guess_answer" not in e:
                continue
            ga = e["guess_answer"]
            print(f"| {NAMES[ds]} ({name}) | {pct(e.get('guess_accuracy'))} | {pct(e['accuracy'])} | "
                  f"{ga.get('differs', 0)} of {e['n']} | {ga.get('corrected', 0)} | {ga.get('broken', 0)} | "
                  f"{ga.get('both_wrong_different', 0)} |")
    print()
    print("## Wall time of each run\n")
    base = []
    for stage, label in (("pretrained", "pretraining"), ("model", "instruction stage")):
        m = lines(os.path.join(out, "base", stage, "metrics.jsonl"))
        if m:
            base.append(f"{label} {len(m)} steps in {sum(r.get('seconds', 0) for r in m):.0f} s")
    if base:
        print("Base (`base/*/metrics.jsonl`, two threads): " + ", ".join(base) + ".\n")
    print("Runs, one thread each (the study runs two at a time):\n")
    print("| Dataset | Run | optimizer steps | training seconds | eval seconds |\n|---|---|---|---|---|")
    total = 0.0
    for ds in DATASETS:
        for name in ("base", "base-gta"):
            e = load(os.path.join(out, "runs", ds, name, "eval.json"))
            total += e["seconds"] if e else 0
        for name in ("sft", "sft-steps", "grpo", "gta", "gta-rl", "grpo-long", "gta-long"):
            m = lines(os.path.join(out, "runs", ds, name, "metrics.jsonl"))
            e = load(os.path.join(out, "runs", ds, name, "eval.json"))
            if not m:
                continue
            secs = sum(r.get("seconds", 0) for r in m)
            total += secs + (e["seconds"] if e else 0)
            print(f"| {NAMES[ds]} | {name} | {len(m)} | {secs:.0f} | " +
                  (f"{e['seconds']:.0f} |" if e else "– |"))
    print(f"\nAll runs and evaluations (Base included): {total:.0f} s of one-thread time, "
          f"about {total / 120:.0f} minutes two at a time.")


if __name__ == "__main__":
    main()
