/* Classification datasets: a directory with labels.txt and train/validation/test splits in
 * JSON Lines or CSV (SPEC.md "Datasets").
 *
 * labels.txt: one label name per line; the line number (from 0) is the label id.  A
 * trailing "\r" (CRLF files) is dropped.  Errors (GTA_EINPUT, "path:line: what"): an empty
 * file, an empty or white-space-only line (an empty last line after the final "\n" is just
 * the file's end), leading or trailing white space, invalid UTF-8, a label containing one
 * of the completion tags (<guess> </guess> <think> </think> <answer> </answer>: it could
 * never be parsed back out of a completion), and duplicates.  Duplicates are judged after
 * gta_label_norm, the normalization the rewards use ("Positive" and "positive " would be
 * the same answer, so they cannot be two classes).
 *
 * Splits: <dir>/<split>.jsonl is read when it exists, else <dir>/<split>.csv.
 *  - JSONL: one JSON object per line with a string "text" and a "label" that is either a
 *    string equal (byte for byte) to a line of labels.txt or an integer id in
 *    [0, n_labels).  Other keys are ignored (HF exports carry label_text, idx, ...).
 *    Blank lines are skipped; CRLF line ends are accepted.
 *  - CSV (RFC 4180): a header naming the columns, which must include "text" and "label"
 *    (any order, other columns ignored); quoted fields may hold commas, doubled quotes
 *    and line breaks; records end in LF or CRLF; every record has the header's number of
 *    fields; blank lines are skipped.  The label is a name (never an id: "3" could be a
 *    label name).
 *  - Both: a UTF-8 BOM at the start of the file is skipped; the text must be valid UTF-8
 *    without NUL characters; a file without any example is an error.
 * Every error is GTA_EINPUT with the message "path:line: what" (line is 1-based; for a
 * CSV record spanning several lines, the line where it starts), e.g.
 * "data/x/train.jsonl:17: label 'postive' is not in labels.txt". */
#ifndef GTA_IO_DATASET_H
#define GTA_IO_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **names; /* n NUL-terminated names, index = id */
    char **norm;  /* the same after gta_label_norm (what answers are compared with) */
    size_t n;
} gta_labels;

typedef struct {
    char *text;      /* NUL-terminated, valid UTF-8 */
    size_t text_len; /* bytes, without the NUL */
    int32_t label;   /* id into gta_labels */
    int32_t line;    /* 1-based line in the source file where the example starts */
} gta_example;

typedef struct {
    gta_example *ex;
    size_t n;
    char *path; /* the file it was read from */
} gta_split;

typedef struct {
    gta_labels labels;
    gta_split train, validation, test; /* n == 0 and path == NULL when absent */
} gta_dataset;

/* Reads labels.txt (see above). */
int gta_labels_load(const char *path, gta_labels *out);
/* Builds a label set from names (copied), with the same checks; name is used in messages. */
int gta_labels_from(const char *const *names, size_t n, const char *name, gta_labels *out);
void gta_labels_free(gta_labels *l);
/* Id of the label equal to s[0..len) byte for byte; -1 when none. */
int32_t gta_labels_find(const gta_labels *l, const char *s, size_t len);
/* Id of the label equal to s[0..len) after gta_label_norm on both sides; -1 when none. */
int32_t gta_labels_find_norm(const gta_labels *l, const char *s, size_t len);

/* The normalization of answers and labels (SPEC.md "Completion formats and rewards"):
 * leading and trailing ASCII white space (space, \t, \n, \v, \f, \r) removed, inner runs
 * of it folded to one space, ASCII letters lower-cased.  Non-ASCII characters are kept as
 * they are (ASCII lower-casing is enough for the label sets we train on, and Unicode case
 * folding would make the result depend on a Unicode version).  Writes into out (at least
 * len + 1 bytes) and returns the normalized length; out is NUL-terminated. */
size_t gta_label_norm(const char *s, size_t len, char *out);

/* 1 when <dir>/<split>.jsonl or <dir>/<split>.csv exists. */
int gta_split_exists(const char *dir, const char *split);
/* Loads one split ("train", "validation", "test" or any other name) against labels.
 * GTA_EINPUT "dir: no split.jsonl or split.csv" when neither file exists. */
int gta_split_load(const char *dir, const char *split, const gta_labels *labels, gta_split *out);
/* Loads a split file given by path (.csv by its extension, JSON Lines otherwise). */
int gta_split_load_file(const char *path, const gta_labels *labels, gta_split *out);
void gta_split_free(gta_split *s);

/* labels.txt and every split that exists.  train is required only when require_train is
 * set (eval needs just test); a missing validation split is never an error. */
int gta_dataset_load(const char *dir, int require_train, gta_dataset *out);
void gta_dataset_free(gta_dataset *d);

/* Strict UTF-8 check (no overlong forms, surrogates or code points above U+10FFFF).
 * Returns len when s[0..len) is valid, else the byte offset of the first bad sequence. */
size_t gta_utf8_check(const char *s, size_t len);

#endif
