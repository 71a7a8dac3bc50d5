#!/usr/bin/env python3
"""Synthetic instruction documents that teach a small base model the chat layout and the
completion formats gta trains with, on toy tasks unrelated to the four datasets
(colours, parity of numbers, kinds of things, days of the week, temperatures with two-word
labels, code words whose label set exists only in the prompt, so that the answer has to come
from the list given, the WordNet category of a dictionary gloss, and -- the largest share --
tasks whose labels are any of WordNet's nouns, so that a label can only be copied from the
list offered: which word a gloss defines, which word a sentence mentions, which word a
letter cue points to).

No label of the four datasets is used (tests/cli/study.sh checks it); WordNet categories that
come close to them (feeling, motive) are left out.

Each document is the ChatML rendering that `gta train --prompt-style compact` produces for a
tokenizer written by `gta tokenizer-train` (user message, then the assistant's completion);
`gta pretrain` appends the end-of-sequence id <|im_end|> after each document. Formats are
mixed: sft (<answer>), grpo (<think><answer>) and gta (<guess><think><answer>); in a fifth of
the gta documents the guess is wrong and the reasoning corrects it.

usage: scripts/synth_instruct.py --n 20000 --seed 0 [--wordnet /usr/share/wordnet] > synth.jsonl
(stdlib only; without WordNet's data.noun the gloss task is skipped)"""
import argparse, json, os, random, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wordnet_text import synsets  # noqa: E402

COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
THINGS = ["car", "door", "ball", "cup", "hat", "kite", "chair", "lamp", "box", "bike"]
PLACES = ["table", "shelf", "floor", "roof", "desk", "bench"]
KINDS = {
    "animal": ["dog", "cat", "horse", "rabbit", "eagle", "frog", "whale", "tiger"],
    "fruit": ["apple", "banana", "cherry", "mango", "pear", "plum", "grape", "lemon"],
    "vehicle": ["truck", "train", "boat", "plane", "bus", "tram", "scooter", "van"],
    "tool": ["hammer", "wrench", "saw", "drill", "shovel", "chisel", "rake", "pliers"],
}
CODES = ["alpha", "bravo", "cedar", "delta", "ember", "falcon", "garnet", "harbor", "iris", "jasper", "kettle",
         "lantern", "meadow", "nickel", "orchid", "pepper", "quartz", "raven", "saffron", "timber", "umber",
         "violet", "willow", "zenith", "copper", "marble", "thistle", "juniper"]
DAYS = {"weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"], "weekend": ["Saturday", "Sunday"]}
FORMATS = {
    "sft": "<answer>label</answer>",
    "grpo": "<think>reasoning</think><answer>label</answer>",
    "gta": "<guess>label</guess><think>reasoning</think><answer>label</answer>",
}


# WordNet's noun lexicographer files (lex_filenum -> category)
LEXNAMES = {4: "act", 5: "animal", 6: "artifact", 7: "attribute", 8: "body", 9: "cognition", 10: "communication",
            11: "event", 13: "food", 14: "group", 15: "location", 17: "object", 18: "person", 19: "phenomenon",
            20: "plant", 21: "possession", 22: "process", 23: "quantity", 25: "shape", 26: "state", 27: "substance",
            28: "time"}
GLOSSES = {}  # category -> [(word, gloss)]
LEMMAS = []  # (lemma, gloss) of nouns, for tasks whose labels are any English words
# never a label here: the labels of the four datasets (the study must not teach them)
EXCLUDE = {"very negative", "negative", "neutral", "positive", "very positive", "sadness", "joy", "love", "anger",
           "fear", "surprise", "alarm", "audio", "calendar", "cooking", "datetime", "email", "general", "iot",
           "lists", "music", "news", "play", "qa", "recommendation", "social", "takeaway", "transport", "weather",
           "tech", "business", "sport", "entertainment", "politics"}


def load_wordnet(d):
    path = os.path.join(d, "data.noun")
    if not os.path.isfile(path):
        return
    for lex, words, gloss in synsets(path):
        cat = LEXNAMES.get(lex)
        word = words[0]
        gloss = gloss.split(";")[0].strip()
        if cat is None or not 12 <= len(gloss) <= 160 or word.lower() in EXCLUDE or word.lower() != word:
            continue
        GLOSSES.setdefault(cat, []).append((word, gloss))
        if word.replace(" ", "").isalpha() and len(word) <= 20:
            LEMMAS.append((word, gloss))


def temperature(r):
    labels = ["very cold", "cold", "mild", "warm", "very hot"]
    t = r.randrange(-10, 41)
    gold = labels[0 if t < 0 else 1 if t <= 10 else 2 if t <= 20 else 3 if t <= 30 else 4]
    text = r.choice([f"It was {t} degrees outside.", f"The thermometer showed {t} degrees.",
                     f"By noon the air was at {t} degrees."])
    return labels, text, gold, f"{t} degrees is {gold}, so the answer is {gold}."


def gloss_task(r):
    cats = sorted(GLOSSES)
    labels = r.sample(cats, r.randrange(3, min(12, len(cats)) + 1))
    gold = r.choice(labels)
    word, gloss = r.choice(GLOSSES[gold])
    text = r.choice([gloss, f"{gloss[0].upper()}{gloss[1:]}.", f"This is about {gloss}."])
    why = f"The text describes {word}, which is a kind of {gold}, so the answer is {gold}."
    return labels, text, gold, why


def word_labels(r, k):
    seen, out = set(), []
    while len(out) < k:
        w, g = r.choice(LEMMAS)
        if w not in seen:
            seen.add(w)
            out.append((w, g))
    return out


def define_task(r):
    """which of the words offered does the text define"""
    pairs = word_labels(r, r.randrange(3, 9))
    gold, gloss = r.choice(pairs)
    labels = [w for w, _ in pairs]
    text = r.choice([gloss, f"{gloss[0].upper()}{gloss[1:]}.", f"A word for {gloss}."])
    return labels, text, gold, f"The text is a definition of {gold}, so the answer is {gold}."


def mention_task(r):
    """the text names one of the words offered: copy it"""
    pairs = word_labels(r, r.randrange(2, 10))
    gold = r.choice(pairs)[0]
    labels = [w for w, _ in pairs]
    text = r.choice([f"They talked about the {gold} all evening.", f"Her note only said: {gold}.",
                     f"The report was mostly about the {gold}.", f"Nobody expected the {gold} to matter so much.",
                     f"I keep thinking about that {gold}."])
    return labels, text, gold, f"The text mentions {gold}, which is one of the labels, so the answer is {gold}."


def letter_task(r):
    """the answer is named only by a cue to the list: it has to be copied from the labels"""
    while True:
        pairs = word_labels(r, r.randrange(2, 8))
        labels = [w for w, _ in pairs]
        if len({w[0] for w in labels}) == len(labels):
            break
    gold = r.choice(labels)
    text = r.choice([f"The right label starts with the letter {gold[0]}.",
                     f"Pick the label that begins with {gold[0]}.", f"It is the one whose first letter is {gold[0]}."])
    return labels, text, gold, f"Only {gold} begins with {gold[0]}, so the answer is {gold}."


def task(r):
    k = r.randrange(20)
    if GLOSSES and k < 2:
        return gloss_task(r)
    if LEMMAS and k < 7:
        return define_task(r)
    if LEMMAS and k < 11:
        return mention_task(r)
    if LEMMAS and k < 14:
        return letter_task(r)
    if k < 16:
        return temperature(r)
    k = r.randrange(6)
    if k >= 4:
        # labels named in the prompt only: the answer must come from the list given
        labels = r.sample(CODES, r.randrange(3, 8))
        gold = r.choice(labels)
        text = r.choice([f"The code word is {gold}.", f"Everyone agreed on {gold} in the end.",
                         f"Of all the options they picked {gold}.", f"The box was marked {gold}."])
        why = f"The text names {gold}, which is one of the labels, so the answer is {gold}."
        return labels, text, gold, why
    if k == 0:
        labels = COLOURS[:]
        c, t, p = r.choice(COLOURS), r.choice(THINGS), r.choice(PLACES)
        text = r.choice([f"The {t} on the {p} is {c}.", f"She painted the {t} {c}.", f"A {c} {t} lay by the {p}."])
        why = f"The text says the {t} is {c}, so the colour is {c}."
        return labels, text, c, why
    if k == 1:
        labels = ["even", "odd"]
        v = r.randrange(1, 1000)
        gold = "even" if v % 2 == 0 else "odd"
        text = r.choice([f"The number is {v}.", f"He counted {v} stones.", f"Page {v} was missing."])
        why = f"{v} ends in {v % 10}, which is {gold}, so the number is {gold}."
        return labels, text, gold, why
    if k == 2:
        labels = list(KINDS)
        gold = r.choice(labels)
        w = r.choice(KINDS[gold])
        text = r.choice([f"I saw a {w} yesterday.", f"There was a {w} near the house.", f"They talked about the {w}."])
        why = f"A {w} is a kind of {gold}, so the text is about a {gold}."
        return labels, text, gold, why
    labels = list(DAYS)
    gold = r.choice(labels)
    d = r.choice(DAYS[gold])
    text = r.choice([f"We met on {d}.", f"The shop opens on {d}.", f"{d} was rainy."])
    why = f"{d} is a {gold} day, so the answer is {gold}."
    return labels, text, gold, why


def doc(r):
    labels, text, gold, why = task(r)
    if r.random() < 0.5 or LEMMAS:
        r.shuffle(labels)
    fmt = r.choices(["gta", "grpo", "sft"], weights=[3, 1, 1])[0]
    # the layout of gta's compact prompt: one label a line (src/train/prompt.c)
    user = "Labels:\n" + "".join(l + "\n" for l in labels) + f"Answer as {FORMATS[fmt]}.\nText: {text}"
    if fmt == "sft":
        out = f"<answer>{gold}</answer>"
    elif fmt == "grpo":
        out = f"<think>{why}</think><answer>{gold}</answer>"
    else:
        guess = gold
        if r.random() < 0.2:
            guess = r.choice([l for l in labels if l != gold])
            why = f"My guess {guess} does not fit: {why}"
        else:
            why = f"My guess {guess} fits: {why}"
        out = f"<guess>{guess}</guess><think>{why}</think><answer>{gold}</answer>"
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{out}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    a = ap.parse_args()
    load_wordnet(a.wordnet)
    if not GLOSSES:
        print(f"synth_instruct.py: no WordNet data in {a.wordnet}: the gloss task is left out", file=sys.stderr)
    r = random.Random(a.seed)
    for _ in range(a.n):
        print(json.dumps({"text": doc(r)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
