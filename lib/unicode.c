/* unicode.c -- UTF-8 and the Unicode classes of the tokenizers (see unicode.h). */
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

#include "srl.h"
#include "unicode_tables.h"

const char *srl_unicode_version(void) { return SRL_UNICODE_VERSION; }

static const unsigned char ascii_class[128] = {
    ['\t'] = SRL_UC_SPACE, ['\n'] = SRL_UC_SPACE, ['\v'] = SRL_UC_SPACE,
    ['\f'] = SRL_UC_SPACE, ['\r'] = SRL_UC_SPACE, [' '] = SRL_UC_SPACE,
    ['0'] = 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    ['A'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['a'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

enum srl_uc_class srl_uc_class(uint32_t cp)
{
    if (cp < 128)
        return (enum srl_uc_class)ascii_class[cp];
    size_t lo = 0, hi = sizeof srl_uc_ranges / sizeof srl_uc_ranges[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < srl_uc_ranges[mid].lo)
            hi = mid;
        else if (cp > srl_uc_ranges[mid].hi)
            lo = mid + 1;
        else
            return (enum srl_uc_class)srl_uc_ranges[mid].cls;
    }
    return SRL_UC_OTHER;
}

int srl_uc_is_word(uint32_t cp)
{
    size_t lo = 0, hi = sizeof srl_uc_word_ranges / sizeof srl_uc_word_ranges[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < srl_uc_word_ranges[mid][0])
            hi = mid;
        else if (cp > srl_uc_word_ranges[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

int srl_utf8_valid_len(const unsigned char *s, size_t n, int *bad)
{
    unsigned c = s[0];
    int len;
    unsigned lo = 0x80, hi = 0xBF;

    *bad = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return len;
}

int srl_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    int bad, len = srl_utf8_valid_len(s, n, &bad);
    switch (len) {
    case 1: *cp = s[0]; break;
    case 2: *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F); break;
    case 3: *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        break;
    case 4:
        *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
              ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        break;
    default: *cp = 0xFFFD; return 1;
    }
    return len;
}

int srl_utf8_encode(uint32_t cp, char *buf)
{
    unsigned char *b = (unsigned char *)buf;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int srl_utf8_lossy(const char *s, size_t n, char **out)
{
    const unsigned char *u = (const unsigned char *)s;
    char *o = malloc(n * 3 + 1);
    size_t i = 0, k = 0;

    if (!o) {
        srl_log_error("unicode.c: out of memory");
        return SRL_ENOMEM;
    }
    while (i < n) {
        int bad, len = srl_utf8_valid_len(u + i, n - i, &bad);
        if (len > 0) {
            memcpy(o + k, u + i, (size_t)len);
            k += (size_t)len;
            i += (size_t)len;
        } else {
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i += (size_t)bad;
        }
    }
    o[k] = '\0';
    *out = o;
    return (int)k;
}

/* bytes_to_unicode() of GPT-2's encoder.py: printable Latin-1 bytes stand for themselves, the
 * others for 256 + their rank among the non-printable ones. */
static int byte_printable(unsigned b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t srl_byte_to_unicode(unsigned char b)
{
    if (byte_printable(b))
        return b;
    unsigned n = 0;
    for (unsigned i = 0; i < b; i++)
        n += !byte_printable(i);
    return 256 + n;
}

int srl_unicode_to_byte(uint32_t cp)
{
    if (cp < 256)
        return byte_printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    unsigned n = cp - 256;
    for (unsigned i = 0; i < 256; i++)
        if (!byte_printable(i) && n-- == 0)
            return (int)i;
    return -1;
}
