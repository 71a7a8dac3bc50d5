#!/usr/bin/env python3
"""The quick start's data slice: a seeded, class-balanced sample of one dataset of
../shared/data, written as a dataset directory gta reads (labels.txt, train.jsonl,
test.jsonl) with manifest.json giving the source line of every example.

Balanced, so that the majority-class accuracy of the held-out split is 1/K and a model
that learnt nothing but the label frequencies cannot look good.  The examples/ folder of
the repository holds its output for Emotion (the default below):

  scripts/make_examples.py ../shared/data/emotion examples/emotion --train 50 --test 25 --seed 0

usage: scripts/make_examples.py SRC_DATASET OUT --train N --test N [--seed S]
  N: examples per label."""
import argparse
import json
import os
import random
import shutil
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--train", type=int, required=True)
    ap.add_argument("--test", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    for f in ("labels.txt", "train.jsonl", "test.jsonl"):
        if not os.path.isfile(os.path.join(a.src, f)):
            sys.exit(f"make_examples.py: error: {os.path.join(a.src, f)}: no such file")
    labels = [l for l in open(os.path.join(a.src, "labels.txt"), encoding="utf-8").read().split("\n") if l]
    os.makedirs(a.out, exist_ok=True)
    shutil.copyfile(os.path.join(a.src, "labels.txt"), os.path.join(a.out, "labels.txt"))
    manifest = {"source": os.path.basename(os.path.normpath(a.src)), "seed": a.seed, "per_label": {}}
    for split, k in (("train", a.train), ("test", a.test)):
        lines = open(os.path.join(a.src, f"{split}.jsonl"), encoding="utf-8").read().split("\n")
        by = {l: [] for l in labels}
        for i, line in enumerate(lines):
            if line.strip():
                by[json.loads(line)["label"]].append(i)
        rng = random.Random(f"{a.seed}/{split}")
        idx = []
        for l in labels:
            if len(by[l]) < k:
                sys.exit(f"make_examples.py: error: {split}: only {len(by[l])} examples of '{l}'")
            idx += sorted(rng.sample(by[l], k))
        rng.shuffle(idx)  # mixed classes, in a fixed order
        with open(os.path.join(a.out, f"{split}.jsonl"), "w", encoding="utf-8") as f:
            for i in idx:
                f.write(lines[i] + "\n")
        manifest["per_label"][split] = k
        manifest[split] = {"n": len(idx), "of": sum(1 for l in lines if l.strip()),
                           "source_lines": [i + 1 for i in idx]}
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f)
        f.write("\n")
    print(f"{a.out}: train {manifest['train']['n']}, test {manifest['test']['n']} "
          f"({len(labels)} labels, {a.train} and {a.test} of each)")


if __name__ == "__main__":
    main()
