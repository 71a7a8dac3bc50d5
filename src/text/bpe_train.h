/* Byte-level BPE training (gta tokenizer-train). */
#ifndef GTA_TEXT_BPE_TRAIN_H
#define GTA_TEXT_BPE_TRAIN_H

typedef struct {
    const char *const *corpus; /* files: *.jsonl (a "text" per line) or plain UTF-8 text */
    int ncorpus;
    long vocab_size;     /* total, special tokens included */
    long min_frequency;  /* stop when the best pair is rarer (default 2) */
    const char *out_dir; /* receives tokenizer.json and tokenizer_config.json */
    int progress;        /* progress lines with rate and ETA on stderr */
} gta_bpe_train_opts;

/* The special tokens the trained tokenizer carries, in id order after the merges. */
extern const char *const GTA_BPE_SPECIALS[];
extern const int GTA_BPE_NSPECIALS;

int gta_bpe_train(const gta_bpe_train_opts *opt);

#endif
