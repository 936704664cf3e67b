/* unicode.h -- the little Unicode the tokenizers need: UTF-8 decoding and encoding, the
 * letter / number / White_Space classes of the regex pre-tokenizers, and lossy UTF-8
 * repair as Rust's String::from_utf8_lossy does it. */
#ifndef SRL_UNICODE_H
#define SRL_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum srl_uc_class {
    SRL_UC_OTHER = 0,
    SRL_UC_LETTER = 1, /* \p{L} */
    SRL_UC_NUMBER = 2, /* \p{N} */
    SRL_UC_SPACE = 3,  /* \s (Unicode White_Space) */
};

struct srl_uc_range {
    uint32_t lo, hi;
    uint8_t cls;
};

/* The Unicode version the class tables were generated from. */
const char *srl_unicode_version(void);

enum srl_uc_class srl_uc_class(uint32_t cp);

/* Whether cp is a word character as Rust regex's \w (letters, marks, decimal digits, connector
 * punctuation, Join_Control): HF's rule for single_word added tokens. */
int srl_uc_is_word(uint32_t cp);

/* Decode one code point from s[0..n) (n >= 1).  Returns its byte length (1-4) and sets *cp;
 * an invalid or truncated sequence decodes as one byte with *cp = 0xFFFD. */
int srl_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Encode cp into buf (4 bytes room); returns the byte count. */
int srl_utf8_encode(uint32_t cp, char *buf);

/* Length of the longest valid UTF-8 sequence at s (1-4), or 0 when s starts an invalid
 * sequence; *bad gets the length of the maximal invalid subpart to replace (>= 1). */
int srl_utf8_valid_len(const unsigned char *s, size_t n, int *bad);

/* Write the lossy UTF-8 form of s[0..n) (each maximal invalid subpart becomes U+FFFD) to a
 * new NUL-terminated string; returns its length or SRL_ENOMEM. */
int srl_utf8_lossy(const char *s, size_t n, char **out);

/* The NFC form of s[0..n) in a new NUL-terminated string *out (free()), *out_len bytes.
 * Text that is not valid UTF-8 is copied unchanged.  Returns 0 or SRL_ENOMEM. */
int srl_utf8_nfc(const char *s, size_t n, char **out, size_t *out_len);

/* GPT-2's byte-level alphabet: the code point standing for byte b, and back (-1 when cp
 * stands for no byte). */
uint32_t srl_byte_to_unicode(unsigned char b);
int srl_unicode_to_byte(uint32_t cp);

#endif
