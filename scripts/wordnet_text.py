#!/usr/bin/env python3
"""English text from Debian's wordnet-base for pretraining: one JSON line per synset,
"word, synonym: gloss" (the gloss with its example sentences). Reads
/usr/share/wordnet/data.{noun,verb,adj,adv}; the licence header lines (which begin with
two spaces) are skipped. Deterministic: synsets in file order.
usage: scripts/wordnet_text.py [DIR=/usr/share/wordnet] > wordnet.jsonl"""
import json
import sys


def synsets(path):
    """(lexicographer file number, words, gloss) of each synset of a WordNet data file"""
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("  ") or "|" not in line:
                continue
            head, gloss = line.split("|", 1)
            fields = head.split()
            nwords = int(fields[3], 16)
            words = [fields[4 + 2 * i].replace("_", " ") for i in range(nwords)]
            # adjective markers such as "(a)" / "(p)" are not text
            words = [w.split("(")[0] for w in words]
            yield int(fields[1]), words, gloss.strip()


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet"
    n = 0
    for pos in ("noun", "verb", "adj", "adv"):
        for _, words, gloss in synsets(f"{d}/data.{pos}"):
            print(json.dumps({"text": f"{', '.join(dict.fromkeys(words))}: {gloss}"}))
            n += 1
    if n == 0:
        sys.exit(f"wordnet_text.py: error: no synsets found in {d}")


if __name__ == "__main__":
    main()
