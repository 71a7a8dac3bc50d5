#!/usr/bin/env python3
"""Writes the seed corpora (tests/fuzz/corpus/<harness>/) and the regression inputs of
past findings (tests/fuzz/regress/<harness>/). Run from the repository root with the shared
folder at ../shared (or $GTA_SHARED); the files it writes are committed, so this only
needs rerunning to change them. Every seed is small (a few KB at most)."""
import json, os, struct, sys

SH = os.environ.get("GTA_SHARED", "../shared")
SEP = b"\n=====\n"
root = "tests/fuzz"


def put(kind, harness, name, data):
    d = os.path.join(root, kind, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def st(tensors, meta=None, pad=True):
    """safetensors bytes from [(name, dtype, shape, raw bytes)]"""
    h, off, body = {}, 0, b""
    if meta is not None:
        h["__metadata__"] = meta
    for name, dt, shape, raw in tensors:
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        body += raw
    ht = json.dumps(h, separators=(",", ":")).encode()
    if pad:
        ht += b" " * ((8 - len(ht) % 8) % 8)
    return struct.pack("<Q", len(ht)) + ht + body


f32 = lambda *v: struct.pack("<%df" % len(v), *v)

# ---- safetensors
S = "fuzz_safetensors"
put("corpus", S, "f32", st([("a", "F32", [2, 2], f32(1, 2, 3, 4)), ("b", "F32", [3], f32(-1, 0.5, 1e30))],
                           {"format": "pt"}))
put("corpus", S, "mixed", st([("bf", "BF16", [2], b"\x80\x3f\x00\x40"), ("h", "F16", [2], b"\x00\x3c\x01\x00"),
                              ("i", "I64", [1], struct.pack("<q", -7)), ("j", "I32", [2], struct.pack("<ii", 1, 2)),
                              ("u", "U8", [3], b"abc"), ("d", "F64", [1], struct.pack("<d", 2.5)),
                              ("e", "F32", [0, 4], b""), ("s", "F32", [], f32(9))]))
idx = json.dumps({"metadata": {"total_size": 24}, "weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})
put("corpus", S, "sharded", idx.encode() + SEP + st([("a", "F32", [2], f32(1, 2))]) + SEP +
    st([("b", "F32", [4], f32(1, 2, 3, 4))]))
real = open(os.path.join(SH, "fixtures/hf/llama/model.safetensors"), "rb").read()
hl = struct.unpack("<Q", real[:8])[0]
put("corpus", S, "llama-header", real[:8 + hl])  # a real header without its data
# findings: an empty header {} (pointer arithmetic on NULL)
put("regress", S, "empty-header", struct.pack("<Q", 2) + b"{}")
dup = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
put("regress", S, "duplicate-name", struct.pack("<Q", len(dup)) + dup + f32(1, 2))

# ---- config.json + model
M = "fuzz_model"
for d in ["llama", "qwen2", "qwen3", "llama-legacy-config", "qwen2-legacy-config"]:
    put("corpus", M, "config-" + d, open(os.path.join(SH, "fixtures/hf", d, "config.json"), "rb").read())
tiny = {"model_type": "llama", "vocab_size": 8, "hidden_size": 4, "intermediate_size": 6, "num_hidden_layers": 1,
        "num_attention_heads": 2, "num_key_value_heads": 1, "tie_word_embeddings": True, "rms_norm_eps": 1e-5}
V, D, F, H, KV = 8, 4, 6, 2, 1
hd = D // H
def w(*shape):
    n = 1
    for s in shape:
        n *= s
    return f32(*[((i * 7) % 5 - 2) / 10 for i in range(n)])
ts = [("model.embed_tokens.weight", "F32", [V, D], w(V, D)), ("model.norm.weight", "F32", [D], w(D)),
      ("model.layers.0.input_layernorm.weight", "F32", [D], w(D)),
      ("model.layers.0.post_attention_layernorm.weight", "F32", [D], w(D)),
      ("model.layers.0.self_attn.q_proj.weight", "F32", [H * hd, D], w(H * hd, D)),
      ("model.layers.0.self_attn.k_proj.weight", "F32", [KV * hd, D], w(KV * hd, D)),
      ("model.layers.0.self_attn.v_proj.weight", "F32", [KV * hd, D], w(KV * hd, D)),
      ("model.layers.0.self_attn.o_proj.weight", "F32", [D, H * hd], w(D, H * hd)),
      ("model.layers.0.mlp.gate_proj.weight", "F32", [F, D], w(F, D)),
      ("model.layers.0.mlp.up_proj.weight", "F32", [F, D], w(F, D)),
      ("model.layers.0.mlp.down_proj.weight", "F32", [D, F], w(D, F))]
put("corpus", M, "tiny-model", json.dumps(tiny).encode() + SEP + st(ts))
qt = dict(tiny, model_type="qwen3", head_dim=4)
put("corpus", M, "tiny-qwen3-config", json.dumps(qt))
# findings: sizes a config allows, with a checkpoint that holds none of them (gta
# allocated all parameters before checking a shape: 256 GiB and more)
big = {"model_type": "llama", "vocab_size": 1 << 24, "hidden_size": 4096, "intermediate_size": 8,
       "num_hidden_layers": 1, "num_attention_heads": 32}
put("regress", M, "huge-sizes-empty-checkpoint", json.dumps(big).encode() + SEP + struct.pack("<Q", 2) + b"{}")
big2 = dict(big, hidden_size=64, num_attention_heads=1)  # 2^31 parameters, 8 GiB
put("regress", M, "huge-sizes-wrong-tensor", json.dumps(big2).encode() + SEP +
    st([("model.embed_tokens.weight", "F32", [1], f32(1))]))
# hidden_size < num_attention_heads without head_dim: head_dim 0 loaded, written back refused
put("regress", M, "head-dim-zero", json.dumps(dict(tiny, hidden_size=2, num_attention_heads=4,
                                                   num_key_value_heads=4)))

# ---- tokenizer.json
T = "fuzz_tokenizer"
put("corpus", T, "bytelevel", open(os.path.join(root, "data/tok-bytelevel/tokenizer.json"), "rb").read())
put("corpus", T, "stories260K", open(os.path.join(root, "data/tok-stories260K/tokenizer.json"), "rb").read())
def bpe(vocab, merges, **kw):
    m = {"type": "BPE", "vocab": vocab, "merges": merges, "unk_token": kw.pop("unk", None),
         "byte_fallback": kw.pop("byte_fallback", False), "fuse_unk": kw.pop("fuse_unk", False)}
    j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": kw.pop("added", []),
         "normalizer": kw.pop("normalizer", None), "pre_tokenizer": kw.pop("pre", None),
         "post_processor": kw.pop("post", None), "decoder": kw.pop("decoder", None), "model": m}
    return json.dumps(j, ensure_ascii=False).encode()
chars = {c: i for i, c in enumerate("<unk> a b c d e f g h ab abc ▁ ▁a é".split(" "))}
put("corpus", T, "normalizers", bpe(chars, ["a b", "ab c", "▁ a"], unk="<unk>",
    normalizer={"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Replace", "pattern": {"String": " "},
                "content": "▁"}, {"type": "Prepend", "prepend": "▁"}, {"type": "NFD"}, {"type": "NFC"}]},
    decoder={"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
             {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}))
put("corpus", T, "split-string", bpe(chars, ["a b"], unk="<unk>", fuse_unk=True,
    pre={"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": "b"}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Removed", "invert": True}]},
    added=[{"id": 14, "content": "<s>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
            "special": True}],
    post={"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
          {"Sequence": {"id": "A", "type_id": 0}}], "pair": [],
          "special_tokens": {"<s>": {"id": "<s>", "ids": [14], "tokens": ["<s>"]}}}))
# findings: a normalizer that emits invalid UTF-8 before NFC (raw bytes in the JSON:
# the NFC quick check indexed its table with code points up to 0x1FFFFF)
nfc = {"type": "NFC"}
for name, n0 in [("replace-invalid-utf8", {"type": "Replace", "pattern": {"String": "a"}, "content": "@@@@"}),
                 ("prepend-invalid-utf8", {"type": "Prepend", "prepend": "@@@@"})]:
    put("regress", T, name, bpe(chars, [], unk="<unk>", normalizer={"type": "Sequence", "normalizers": [n0, nfc]})
        .replace(b"@@@@", b"\xff\xff\xff\xff"))
put("regress", T, "split-invalid-utf8", bpe(chars, [], unk="<unk>", pre={"type": "Split", "pattern": {
    "String": "@@"}, "behavior": "Isolated", "invert": False}).replace(b"@@", b"\xe2\x80"))
put("regress", T, "vocab-invalid-utf8", bpe({"a": 0, "@@": 1}, []).replace(b"@@", b"\xc3"))
# a word that yields no ids (no unk_token, no byte fallback): text silently dropped
put("regress", T, "word-without-ids", bpe({"a": 0, "b": 1}, []))
put("regress", T, "deep-nesting", b"[" * 5000)

# ---- encode (byte 0: 0 bytelevel, 1 stories260K)
E = "fuzz_encode"
for i, t in enumerate(["Hello world, it's me.", "Café e\u0301 \u212b \ufb01 中文 😀 \t\n  x",
                       "<|im_start|>user\nhi<|im_end|>\n", "<guess>joy</guess><think>…</think><answer>x</answer>"]):
    put("corpus", E, "t%d-bytelevel" % i, b"\x00" + t.encode())
    put("corpus", E, "t%d-stories" % i, b"\x01" + t.encode())
put("regress", E, "invalid-utf8", b"\x00ab\xe2\x80")
put("regress", E, "invalid-utf8-stories", b"\x01\xf4\x90\x80\x80 a")

# ---- chat (byte 0: 0 llama3, 1 llama3.2, 2 qwen2.5, 3 qwen3, 4 chatml, 5 own config; byte 1 options)
C = "fuzz_chat"
conv = SEP.join([b"system\nYou classify.", b"user\n  Text: hello  \n", b"assistant\n<think>\nhm\n</think>\n\njoy",
                 b"user\nagain"])
for m in range(5):
    put("corpus", C, "conv-%d" % m, bytes([m, 1]) + conv)
put("corpus", C, "qwen3-reasoning", bytes([3, 3]) + b"user\nq" + SEP + b"assistant\nanswer\x01why" + SEP + b"tool\nr")
put("corpus", C, "json-request", bytes([2, 0]) + b'{"messages":[{"role":"user","content":"hi"}],'
    b'"add_generation_prompt":true}')
cfg = json.load(open(os.path.join(root, "data/chat/llama3.json")))
put("corpus", C, "own-config", bytes([5, 9]) + json.dumps(cfg).encode() + SEP + b"user\nhi")
# findings: invalid UTF-8 in a message and a system prompt (py_strip's length wrapped)
put("regress", C, "llama3-content-e280", bytes([0, 1]) + b"user\n\xe2\x80")
put("regress", C, "llama32-system-e280", bytes([1, 9]) + b"system\n\xe2\x80" + SEP + b"user\nhi")
put("regress", C, "qwen3-reasoning-invalid", bytes([3, 1]) + b"user\nq" + SEP + b"assistant\nx\x01\xc3")

# ---- datasets (byte 0: even jsonl, odd csv)
D_ = "fuzz_dataset"
labels = b"joy\nsadness\nanger\n"
put("corpus", D_, "jsonl", b"\x00" + labels + SEP + b'{"text": "I am happy", "label": "joy"}\n'
    b'{"text":"so sad \\u00e9","label":1,"idx":3}\r\n\n{"text": "grr", "label": "anger"}')
put("corpus", D_, "csv", b"\x01" + labels + SEP + b'idx,text,label\r\n1,"a, b ""c""\nd",joy\n2,plain,anger\n')
put("corpus", D_, "bom-crlf", b"\x01\xef\xbb\xbfA\r\nB\r\n" + SEP + b"\xef\xbb\xbftext,label\r\nx,A\r\n")
emo = open(os.path.join(SH, "data/emotion/labels.txt"), "rb").read()
lines = open(os.path.join(SH, "data/emotion/train.jsonl"), "rb").read().split(b"\n")[:8]
put("corpus", D_, "emotion", b"\x00" + emo + SEP + b"\n".join(lines) + b"\n")
put("regress", D_, "duplicate-labels", b"\x00a\nb\n A\n" + SEP + b'{"text":"x","label":"a"}')
put("regress", D_, "duplicate-labels-norm", b"\x00Big Cat\nb\nbig  cat\n")
# ---- run directory state (trainer_state.json, then the run's config.json)
R = "fuzz_state"
st0 = {"step": 3, "cursor": 6, "adam_step": 3, "metrics_bytes": 1234, "samples_bytes": 99, "eval_bytes": 0,
       "rollout": True, "rollout_stats": {"reward": 0.5, "reward_format": 0.25, "reward_accuracy": 0.25,
       "guess_accuracy": 0.5, "frac_zero_std": 0.5, "completion_tokens_mean": 17.25}}
runcfg = {"method": "gta", "group_size": 4, "learning_rate": 1e-4, "system_prompt": "Be brief.",
          "prompt_style": "compact", "seed": 5}
put("corpus", R, "state-rollout", json.dumps(st0, indent=2).encode() + SEP + json.dumps(runcfg).encode())
put("corpus", R, "state-plain", json.dumps({"step": 0, "cursor": 0, "adam_step": 0, "metrics_bytes": 0,
                                             "samples_bytes": 0, "rollout": False}))
# finding: a trainer_state.json without "cursor" made --resume segfault
put("regress", R, "no-cursor", json.dumps({k: v for k, v in st0.items() if k != "cursor"}))
put("regress", R, "rollout-without-stats", json.dumps(dict(st0, rollout_stats=None)))
put("regress", R, "step-a-string", json.dumps(dict(st0, step="3")))
# found by fuzz_tokenizer: a post_processor special token id outside the vocabulary
put("regress", T, "post-processor-id-outside", bpe(chars, [], unk="<unk>", post={"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [14], "tokens": ["<s>"]}}}))
# found by fuzz_state: an integer setting of 4e47 (undefined conversion to long long)
put("regress", R, "setting-4e47", json.dumps({"step": 0, "cursor": 0, "adam_step": 0, "metrics_bytes": 0,
    "samples_bytes": 0, "rollout": False}).encode() + SEP + b'{"group_size": 4.44444e47}')
# found by fuzz_state: a setting of 1e3088 (infinity), written back as null
put("regress", R, "setting-infinite", json.dumps({"step": 0, "cursor": 0, "adam_step": 0, "metrics_bytes": 0,
    "samples_bytes": 0, "rollout": False}).encode() + SEP + b'{"learning_rate": 1e3088}')
put("regress", M, "rope-theta-infinite", json.dumps(dict(tiny, rope_theta=1)).replace('"rope_theta": 1', '"rope_theta": 1e999'))
# found by fuzz_state: 8.9e55 written back by cJSON with 15 digits, read back as another number
put("regress", R, "statistic-15-digits", json.dumps(dict(st0, rollout_stats=dict(st0["rollout_stats"],
    reward_format=88888888888888888888888888888888888888888888888888888888.25, reward=0.1234567890123456789))))
print("seeds written")
