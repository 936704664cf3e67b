/* packing.h -- raw text for causal-LM pretraining: documents streamed from JSONL / JSON /
 * plain-text files, tokenized, packed back to back into a token file on disk, and read back
 * as fixed-length windows.
 *
 * A document is one record's text: the values of the selected fields present in the record
 * (opts.fields, in that order; default srl_pack_default_fields), each a string or a list of
 * strings or of {"content": string} messages, joined with "\n\n"; a record that is a JSON
 * string is its own text.  A plain-text file (.txt, .text, .md, with or
 * without .gz) is split into documents at blank lines.  A record without any of the fields
 * (or whose field is not a string) is an error "FILE:LINE: ..." (counted and skipped with
 * skip_bad); empty texts are skipped silently.
 *
 * Each document is encoded with the tokenizer's special tokens (BOS where its post-processor
 * adds one) and followed by EOS, so the stream reads "<s> doc1 </s><s> doc2 </s>..." (with a
 * tokenizer whose BOS is its EOS, as GPT-2's <|endoftext|>, the leading one is dropped: the
 * EOS before it separates).  Only the token stream is kept, as int32 in an unlinked temporary
 * file ($TMPDIR, else /tmp): the corpus is never held in memory.
 *
 * Windows: window i of length T is tokens [i (T - 1), i (T - 1) + T).  Consecutive windows
 * share one token, so with the causal-LM loss (position t predicts t + 1) every token of the
 * stream but the first is a target exactly once; the incomplete tail is dropped.  There are
 * (n_tokens - 1) / (T - 1) windows.
 *
 * Held-out documents: with eval_ratio > 0, document k (counted over all files, from 0) goes to
 * the eval pack when a hash of (seed, k) falls below eval_ratio: the same files, ratio and seed
 * give the same split, without knowing the document count in advance. */
#ifndef SRL_PACKING_H
#define SRL_PACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "tokenizer.h"

/* text, prompt, instruction, input, output, response, response_0, response_1, chosen,
 * rejected, messages: the text fields of the schemas DESIGN.md lists (Alpaca, LIMA, HH-RLHF,
 * PKU-SafeRLHF pairs and SFT files). */
extern const char *const srl_pack_default_fields[];
extern const size_t srl_pack_n_default_fields;

struct srl_pack_opts {
    const struct srl_tokenizer *tok;
    const char *const *fields; /* NULL: the default fields */
    size_t n_fields;
    bool skip_bad;             /* count and skip bad records instead of failing */
    double eval_ratio;         /* fraction of documents held out (0: none) */
    uint64_t seed;             /* of the held-out choice */
};

/* A packed token stream.  Zero-initialise, then srl_pack_open(). */
struct srl_pack {
    int fd;             /* the unlinked token file */
    size_t n_tokens;    /* tokens in the stream */
    size_t n_docs;      /* documents packed */
    int32_t *buf;       /* write buffer */
    size_t n_buf;
};

/* Counts of one srl_pack_read() call (added to). */
struct srl_pack_stats {
    size_t n_records;   /* records (or plain-text documents) read */
    size_t n_skipped;   /* bad records skipped (skip_bad) */
    size_t n_empty;     /* records with no text */
};

int srl_pack_open(struct srl_pack *p);
void srl_pack_close(struct srl_pack *p); /* NULL-safe; zeroes */

/* Append the documents of PATH ("-" stdin, JSON Lines or JSON) to train, or to eval (may be
 * NULL when o->eval_ratio is 0) for held-out documents.  Returns 0 or SRL_E* (a bad record:
 * SRL_EFORMAT, logged "FILE:LINE: what is wrong"). */
int srl_pack_read(struct srl_pack *train, struct srl_pack *eval, const char *path,
                  const struct srl_pack_opts *o, struct srl_pack_stats *stats);

/* Write out what is buffered (before reading windows).  Returns 0 or SRL_EIO. */
int srl_pack_flush(struct srl_pack *p);

/* Windows of T >= 2 tokens in the stream. */
size_t srl_pack_n_windows(const struct srl_pack *p, int T);

/* Replace the examples of *out with windows idx[0..n) of length T, every token trained (the
 * set's buffers are reused).  Returns 0 or SRL_E*. */
int srl_pack_windows(const struct srl_pack *p, int T, const size_t *idx, size_t n,
                     struct srl_sft_set *out);

/* The text of one record (see the top of this file): a new string in *text (free()), NULL
 * when the record has no text (empty strings).  Returns 0 or SRL_EFORMAT (logged with WHERE)
 * or SRL_ENOMEM. */
int srl_record_text(const struct srl_json *rec, const char *const *fields, size_t n_fields,
                    const char *where, char **text);

#endif
