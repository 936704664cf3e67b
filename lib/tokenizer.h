/* tokenizer.h -- Hugging Face compatible tokenizers: load tokenizer.json, encode, decode,
 * convert (GPT-2 encoder.json + vocab.bpe, llama2.c tokenizer.bin, SentencePiece .model) and
 * train byte-level BPE.
 *
 * Supported tokenizer.json: model BPE (byte-level as GPT-2 / Llama 3 / Qwen2, or SentencePiece
 * style with byte fallback as Llama 2 / TinyLlama), merges as "a b" strings or [a, b] arrays,
 * added_tokens (special and not; lstrip, rstrip, single_word), normalizers Prepend / Replace
 * (literal, and the regexes transformers writes for SentencePiece) / Strip / NFC / Sequence,
 * pre-tokenizers ByteLevel / Split (GPT-2, Llama 3 and Qwen2 patterns) / Metaspace / Digits /
 * Sequence,
 * post-processors TemplateProcessing / ByteLevel, decoders ByteLevel / Replace / ByteFallback /
 * Fuse / Strip / Metaspace / Sequence, byte fallback, unk, ignore_merges.  Anything else (other
 * model types, other regexes, ...) fails with SRL_EUNSUPPORTED and a one-line error naming the
 * file.  The regex classes \p{L}, \p{N}, \s follow Unicode 16.0, as HF's Oniguruma does.
 *
 * Ownership: srl_tokenizer_load() returns an object freed with srl_tokenizer_free(); arrays
 * and strings returned through out-parameters are new allocations the caller free()s;
 * srl_tokenizer_token() returns a pointer into the tokenizer, valid until it is freed.
 * A loaded tokenizer is read-only apart from an internal word cache guarded by a lock, so
 * one tokenizer may be used by several threads at once. */
#ifndef SRL_TOKENIZER_H
#define SRL_TOKENIZER_H

#include <stddef.h>

struct srl_tokenizer; /* opaque */

/* Load DIR/tokenizer.json (+ DIR/tokenizer_config.json for bos/eos/pad/unk and
 * add_bos_token/add_eos_token when present), or a path to a tokenizer.json file (and the
 * tokenizer_config.json beside it).  add_bos_token/add_eos_token true add BOS/EOS around the
 * post-processor's template when it lacks them; false never removes them.
 * Returns a new object, or NULL with *err (when err is not NULL) set to an SRL_E* code. */
struct srl_tokenizer *srl_tokenizer_load(const char *path, int *err);
void srl_tokenizer_free(struct srl_tokenizer *tok); /* NULL-safe */

/* Encode len bytes of UTF-8 text to token ids.  add_special: add BOS/EOS as the tokenizer's
 * post-processor says (HF add_special_tokens=True).  Added tokens written literally in the text
 * ("</s>", "<|endoftext|>") are recognised as HF does.  Returns the number of ids (>= 0) and
 * sets *ids to a new array (free(); NULL when there are no ids), or a negative SRL_E*. */
int srl_tokenizer_encode(const struct srl_tokenizer *tok, const char *text, size_t len,
                         int add_special, int **ids);

/* Decode n ids to a new NUL-terminated UTF-8 string in *text (free()); skip_special as HF
 * skip_special_tokens.  Returns the string length or a negative SRL_E* (unknown id). */
int srl_tokenizer_decode(const struct srl_tokenizer *tok, const int *ids, size_t n,
                         int skip_special, char **text);

/* The raw bytes one token stands for (byte-level tokens mapped back to bytes, "▁" to a space,
 * "<0xNN>" to the byte), for streaming generation output: writes at most size bytes to buf
 * and returns the full byte count, or a negative SRL_E* for an unknown id.  Streaming callers
 * concatenate these bytes; a leading space the decoder would strip is kept. */
int srl_tokenizer_token_bytes(const struct srl_tokenizer *tok, int id, char *buf, size_t size);

int srl_tokenizer_vocab_size(const struct srl_tokenizer *tok); /* highest id + 1 */
int srl_tokenizer_bos_id(const struct srl_tokenizer *tok);     /* -1 when none */
int srl_tokenizer_eos_id(const struct srl_tokenizer *tok);     /* -1 when none */
int srl_tokenizer_pad_id(const struct srl_tokenizer *tok);     /* -1 when none */
int srl_tokenizer_unk_id(const struct srl_tokenizer *tok);     /* -1 when none */
int srl_tokenizer_is_special(const struct srl_tokenizer *tok, int id);

/* The vocabulary string of id (NULL when out of range), and the id of a vocabulary string
 * (-1 when absent). */
const char *srl_tokenizer_token(const struct srl_tokenizer *tok, int id);
int srl_tokenizer_id(const struct srl_tokenizer *tok, const char *token);

/* A one-line summary for `saferlhf-convert info`, e.g. "byte-level BPE, 50257 tokens, 50000
 * merges, specials: <|endoftext|>=50256".  Returns the length snprintf would write. */
int srl_tokenizer_describe(const struct srl_tokenizer *tok, char *buf, size_t size);

/* Converters: write OUT_DIR/tokenizer.json and OUT_DIR/tokenizer_config.json atomically
 * (OUT_DIR must exist).  Return 0 or a negative SRL_E*. */
int srl_tokenizer_convert_gpt2(const char *encoder_json, const char *vocab_bpe,
                               const char *out_dir);
/* llama2.c tokenizer.bin: int32 max_token_length, then per token float score, int32 len,
 * bytes.  Ids 0, 1, 2 are <unk>, <s>, </s> (SentencePiece Llama layout). */
int srl_tokenizer_convert_llama2c(const char *tokenizer_bin, const char *out_dir);
/* A SentencePiece BPE .model protobuf (as tok512.model).  Both SentencePiece converters write
 * what transformers' converter writes (merges by piece id, normalizer for
 * remove_extra_whitespaces, Metaspace, byte fallback, BOS template) with tokenizer_class
 * PreTrainedTokenizerFast, which transformers 5 loads verbatim (LlamaTokenizerFast would
 * rebuild its own pipeline there).  tokenizer.bin lacks the normalizer settings: they are taken
 * as SentencePiece's defaults (dummy prefix, remove extra whitespace), as tok512.model has. */
int srl_tokenizer_convert_sentencepiece(const char *model_file, const char *out_dir);

/* Train a byte-level BPE tokenizer (GPT-2 pre-tokenisation, ByteLevel) on n_texts NUL-terminated
 * texts, exactly as HF tokenizers' BpeTrainer with initial_alphabet=ByteLevel.alphabet() does:
 * the n_specials special tokens get ids 0..n_specials-1, the 256 byte tokens follow in code
 * point order of their byte-level characters, then one token per merge; the most frequent pair
 * is merged first, ties going to the smallest (left id, right id).  vocab_size counts all three.
 * The first special token (if any) is written as bos and eos, a special token "<pad>" as pad.
 * Writes OUT_DIR/tokenizer.json and OUT_DIR/tokenizer_config.json.  Returns 0 or SRL_E*. */
int srl_tokenizer_train_bpe(const char *const *texts, size_t n_texts, int vocab_size,
                            const char *const *specials, size_t n_specials, const char *out_dir);

#endif
