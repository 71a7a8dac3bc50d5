#!/usr/bin/env python3
"""The study's data: for each dataset, a seeded random subset of the training split (the
examples every method trains on) and of the test split (the examples every model is scored
on), written as dataset directories gta reads (labels.txt, train.jsonl, test.jsonl), plus
manifest.json with the source line of every example so each number traces back to
../shared/data.

Random, not leading, subsets: some splits are ordered (MASSIVE's test split starts with
few scenarios), so "the first N" would not be a sample of the split.

usage: scripts/study_data.py SHARED_DATA OUT --train N --test N [--seed S] DATASET...
  N = 0 keeps the whole split (in its original order)."""
import argparse
import json
import os
import random
import shutil
import sys


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l for l in f.read().split("\n") if l.strip()]


def subset(lines, n, rng):
    idx = list(range(len(lines)))
    if 0 < n < len(lines):
        idx = sorted(rng.sample(idx, n))
    return idx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shared_data")
    ap.add_argument("out")
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--train", type=int, required=True)
    ap.add_argument("--test", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    for ds in a.datasets:
        src = os.path.join(a.shared_data, ds)
        dst = os.path.join(a.out, ds)
        for f in ("labels.txt", "train.jsonl", "test.jsonl"):
            if not os.path.isfile(os.path.join(src, f)):
                sys.exit(f"study_data.py: error: {os.path.join(src, f)}: no such file")
        os.makedirs(dst, exist_ok=True)
        shutil.copyfile(os.path.join(src, "labels.txt"), os.path.join(dst, "labels.txt"))
        manifest = {"source": os.path.abspath(src), "seed": a.seed}
        for split, n in (("train", a.train), ("test", a.test)):
            lines = read_lines(os.path.join(src, f"{split}.jsonl"))
            # one generator per (dataset, split): a subset does not depend on the others
            rng = random.Random(f"{a.seed}/{ds}/{split}")
            idx = subset(lines, n, rng)
            if split == "train":
                rng.shuffle(idx)  # training order is the trainer's; this just mixes classes
            tmp = os.path.join(dst, f".{split}.jsonl.tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                for i in idx:
                    f.write(lines[i] + "\n")
            os.replace(tmp, os.path.join(dst, f"{split}.jsonl"))
            manifest[split] = {"n": len(idx), "of": len(lines), "source_lines": [i + 1 for i in idx]}
        tmp = os.path.join(dst, ".manifest.json.tmp")
        with open(tmp, "w") as f:
            json.dump(manifest, f)
        os.replace(tmp, os.path.join(dst, "manifest.json"))
        print(f"{ds}: train {manifest['train']['n']}/{manifest['train']['of']}, "
              f"test {manifest['test']['n']}/{manifest['test']['of']}")


if __name__ == "__main__":
    main()
