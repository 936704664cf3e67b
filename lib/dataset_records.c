/* dataset_records.c -- SFT, preference and prompt records -> conversations (see dataset.h). */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "prompt.h"
#include "srl.h"

void srl_conv_free(struct srl_conv *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) free(c->turns[i]);
    free(c->turns);
    c->turns = NULL;
    c->n = 0;
    c->hh = false;
}

void srl_pref_free(struct srl_pref *p)
{
    if (!p) return;
    srl_conv_free(&p->prompt);
    free(p->answer[0]);
    free(p->answer[1]);
    p->answer[0] = p->answer[1] = NULL;
}

/* Append a copy of len bytes of s as the next turn. */
static int push_turn(struct srl_conv *c, const char *s, size_t len)
{
    char **t = realloc(c->turns, (c->n + 1) * sizeof *t);
    if (!t) return SRL_ENOMEM;
    c->turns = t;
    if (!(t[c->n] = malloc(len + 1))) return SRL_ENOMEM;
    memcpy(t[c->n], s, len);
    t[c->n][len] = '\0';
    c->n++;
    return 0;
}

static int bad(const char *where, const char *what, const char *key)
{
    srl_log_error("%s: %s%s%s%s", where, key ? "\"" : "", key ? key : "", key ? "\" " : "", what);
    return SRL_EFORMAT;
}

/* A string member, or NULL (absent or null).  A present member of another type is an error. */
static int get_string(const struct srl_json *rec, const char *key, const char *where,
                      const char **out)
{
    struct srl_json *v = srl_json_get(rec, key);
    *out = NULL;
    if (!v || srl_json_is_null(v)) return 0;
    if (!srl_json_is_string(v)) return bad(where, "is not a string", key);
    *out = srl_json_string(v);
    return 0;
}

/* A list of strings (turns) or one string into c; odd says the count must be odd. */
static int get_turns(const struct srl_json *v, const char *key, const char *where, bool odd,
                     struct srl_conv *c)
{
    if (srl_json_is_string(v)) return push_turn(c, srl_json_string(v), srl_json_string_length(v));
    if (!srl_json_is_array(v)) return bad(where, "is not a string or a list of turns", key);
    size_t n = srl_json_array_size(v);
    if (n == 0) return bad(where, "is an empty list", key);
    if (odd && n % 2 == 0)
        return bad(where, "has an even number of turns (expected user, assistant, ..., user)",
                   key);
    for (size_t i = 0; i < n; i++) {
        struct srl_json *e = srl_json_array_at(v, i);
        if (!srl_json_is_string(e)) return bad(where, "has a turn that is not a string", key);
        int rc = push_turn(c, srl_json_string(e), srl_json_string_length(e));
        if (rc < 0) return rc;
    }
    return 0;
}

/* Alpaca: instruction + " " + input when input is non-empty. */
static int alpaca_turn(const struct srl_json *rec, const char *where, struct srl_conv *c)
{
    const char *ins, *inp;
    int rc;
    if ((rc = get_string(rec, "instruction", where, &ins)) < 0) return rc;
    if ((rc = get_string(rec, "input", where, &inp)) < 0) return rc;
    if (!ins) return bad(where, "is missing", "instruction");
    if (!inp || !*inp) return push_turn(c, ins, strlen(ins));
    size_t a = strlen(ins), b = strlen(inp);
    char *s = malloc(a + b + 2);
    if (!s) return SRL_ENOMEM;
    memcpy(s, ins, a);
    s[a] = ' ';
    memcpy(s + a + 1, inp, b + 1);
    rc = push_turn(c, s, a + b + 1);
    free(s);
    return rc;
}

/* {messages: [{role, content}]}: system (optional, first) then alternating user/assistant. */
static int messages_turns(const struct srl_json *msgs, const char *where, struct srl_conv *c)
{
    if (!srl_json_is_array(msgs)) return bad(where, "is not a list", "messages");
    size_t n = srl_json_array_size(msgs), i = 0;
    const char *system = NULL;
    for (; i < n; i++) {
        struct srl_json *m = srl_json_array_at(msgs, i);
        const char *role, *content;
        if (!srl_json_is_object(m)) return bad(where, "has an element that is not an object",
                                               "messages");
        if (get_string(m, "role", where, &role) < 0 || get_string(m, "content", where,
                                                                  &content) < 0)
            return SRL_EFORMAT;
        if (!role || !content) return bad(where, "has a message without role or content",
                                          "messages");
        int rc;
        if (strcmp(role, "system") == 0) {
            if (i != 0) return bad(where, "has a system message after the first", "messages");
            system = content;
            continue;
        }
        const char *want = c->n % 2 == 0 ? "user" : "assistant";
        if (strcmp(role, want) != 0) {
            srl_log_error("%s: \"messages\"[%zu] has role \"%s\", expected \"%s\" (turns must "
                          "alternate user, assistant)", where, i, role, want);
            return SRL_EFORMAT;
        }
        if (system && c->n == 0) {
            size_t a = strlen(system), b = strlen(content);
            char *s = malloc(a + b + 3);
            if (!s) return SRL_ENOMEM;
            memcpy(s, system, a);
            memcpy(s + a, "\n\n", 2);
            memcpy(s + a + 2, content, b + 1);
            rc = push_turn(c, s, a + b + 2);
            free(s);
        } else {
            rc = push_turn(c, content, strlen(content));
        }
        if (rc < 0) return rc;
    }
    if (c->n == 0) return bad(where, "has no user turn", "messages");
    return 0;
}

static const char HUMAN[] = "\n\nHuman:", ASSISTANT[] = "\n\nAssistant:";

int srl_hh_split(const char *text, const char *where, struct srl_conv *c)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t' || (*p == '\n' && strncmp(p, HUMAN, 8) != 0)) p++;
    if (strncmp(p, HUMAN, strlen(HUMAN)) != 0) {
        srl_log_error("%s: the dialogue does not start with \"\\n\\nHuman:\"", where);
        return SRL_EFORMAT;
    }
    c->hh = true;
    p += strlen(HUMAN);
    for (int user = 1;; user = !user) {
        const char *next = strstr(p, user ? ASSISTANT : HUMAN);
        const char *end = next ? next : p + strlen(p);
        const char *s = p;
        if (user && *s == ' ') s++; /* the hh template writes "Human: " */
        int rc = push_turn(c, s, (size_t)(end - s));
        if (rc < 0) return rc;
        if (!next) break;
        p = next + strlen(user ? ASSISTANT : HUMAN);
    }
    return 0;
}

/* The first of keys present in rec that is an HH dialogue string, or NULL. */
static const char *hh_text(const struct srl_json *rec, const char *key)
{
    struct srl_json *v = srl_json_get(rec, key);
    if (!srl_json_is_string(v)) return NULL;
    return strstr(srl_json_string(v), HUMAN) ? srl_json_string(v) : NULL;
}

int srl_record_sft(const struct srl_json *rec, const char *where, struct srl_conv *c)
{
    struct srl_json *v;
    const char *s;
    int rc;
    memset(c, 0, sizeof *c);
    if ((v = srl_json_get(rec, "messages"))) {
        rc = messages_turns(v, where, c);
    } else if ((v = srl_json_get(rec, "dialogue"))) {
        rc = get_turns(v, "dialogue", where, false, c);
    } else if (srl_json_get(rec, "prompt") && srl_json_get(rec, "response")) {
        if ((rc = get_turns(srl_json_get(rec, "prompt"), "prompt", where, true, c)) == 0 &&
            (rc = get_string(rec, "response", where, &s)) == 0)
            rc = s ? push_turn(c, s, strlen(s)) : bad(where, "is null", "response");
    } else if (srl_json_get(rec, "instruction")) {
        if ((rc = alpaca_turn(rec, where, c)) == 0 &&
            (rc = get_string(rec, "output", where, &s)) == 0)
            rc = s ? push_turn(c, s, strlen(s)) : bad(where, "is missing", "output");
    } else if ((s = hh_text(rec, "chosen")) || (s = hh_text(rec, "text"))) {
        rc = srl_hh_split(s, where, c);
    } else {
        srl_log_error("%s: not an SFT record (expected prompt/response, instruction/input/output, "
                      "messages, dialogue, or an HH dialogue in chosen or text)", where);
        rc = SRL_EFORMAT;
    }
    if (rc == 0 && c->n % 2 != 0) {
        srl_log_error("%s: the conversation ends with a user turn: no answer to train on", where);
        rc = SRL_EFORMAT;
    }
    if (rc < 0) srl_conv_free(c);
    return rc;
}

int srl_record_prompt(const struct srl_json *rec, const char *where, struct srl_conv *c)
{
    const char *s;
    int rc;
    memset(c, 0, sizeof *c);
    if (srl_json_get(rec, "prompt") || srl_json_get(rec, "instruction") ||
        srl_json_get(rec, "messages") ||
        !((s = hh_text(rec, "chosen")) || (s = hh_text(rec, "text"))))
        return srl_prompt_turns(rec, where, &c->turns, &c->n); /* lib/prompt.h */
    if ((rc = srl_hh_split(s, where, c)) == 0 && c->n % 2 == 0) free(c->turns[--c->n]);
    return rc < 0 ? (srl_conv_free(c), rc) : 0;
}

int srl_record_prompt_ids(const struct srl_json *rec, const char *where,
                          const struct srl_tokenizer *tok, const struct srl_template *t, bool hh,
                          int max, int32_t **ids, int *truncated)
{
    struct srl_conv c;
    int *raw = NULL, err = 0, n;
    if ((n = srl_record_prompt(rec, where, &c)) < 0) return n;
    if (c.hh && hh) t = srl_template_find("hh");
    char *text = srl_template_render(t, (const char *const *)c.turns, c.n,
                                     srl_tokenizer_eos_string(tok), &err);
    srl_conv_free(&c);
    if (!text) return err;
    n = srl_tokenizer_encode(tok, text, strlen(text), 1, &raw);
    free(text);
    if (n <= 0) {
        free(raw);
        if (n == 0) srl_log_error("%s: the prompt encodes to no tokens", where);
        return n < 0 ? n : SRL_EFORMAT;
    }
    int keep = max > 0 && n > max ? max : n;
    if (truncated) *truncated = n - keep;
    if (!(*ids = malloc(sizeof(int32_t) * (size_t)keep))) {
        free(raw);
        return SRL_ENOMEM;
    }
    for (int i = 0; i < keep; i++)
        (*ids)[i] = raw[n - keep + i];
    free(raw);
    return keep;
}

// --- preferences -----------------------------------------------------------------------------

/* An optional 0/1 id (integer or boolean-like integer). */
static int get_id(const struct srl_json *rec, const char *key, const char *where, int *out)
{
    struct srl_json *v = srl_json_get(rec, key);
    *out = -1;
    if (!v || srl_json_is_null(v)) return 0;
    if (!srl_json_is_integer(v) || (srl_json_integer(v) != 0 && srl_json_integer(v) != 1))
        return bad(where, "must be 0 or 1", key);
    *out = (int)srl_json_integer(v);
    return 0;
}

static int get_flag(const struct srl_json *rec, const char *key, const char *where, int *out)
{
    struct srl_json *v = srl_json_get(rec, key);
    *out = -1;
    if (!v || srl_json_is_null(v)) return 0;
    if (!srl_json_is_bool(v)) return bad(where, "must be true or false", key);
    *out = srl_json_boolean(v) ? 1 : 0;
    return 0;
}

static int dup_answer(const char *s, char **out)
{
    return (*out = strdup(s)) ? 0 : SRL_ENOMEM;
}

static int pref_hh(const char *chosen, const char *rejected, const char *where,
                   struct srl_pref *p)
{
    struct srl_conv r = { 0 };
    int rc;
    if ((rc = srl_hh_split(chosen, where, &p->prompt)) < 0) return rc;
    if ((rc = srl_hh_split(rejected, where, &r)) < 0) return rc;
    if (p->prompt.n % 2 != 0 || r.n % 2 != 0) {
        rc = bad(where, "does not end with an Assistant turn", p->prompt.n % 2 ? "chosen"
                                                                               : "rejected");
        goto out;
    }
    int same = p->prompt.n == r.n;
    for (size_t i = 0; same && i + 1 < r.n; i++) same = strcmp(p->prompt.turns[i],
                                                               r.turns[i]) == 0;
    if (!same) {
        srl_log_error("%s: \"chosen\" and \"rejected\" differ before their final answers", where);
        rc = SRL_EFORMAT;
        goto out;
    }
    p->answer[0] = p->prompt.turns[--p->prompt.n];
    p->answer[1] = r.turns[--r.n];
    r.turns[r.n] = NULL;
    p->better = 0;
out:
    srl_conv_free(&r);
    return rc;
}

int srl_record_pref(const struct srl_json *rec, const char *where, struct srl_pref *p)
{
    const char *r0, *r1, *ch, *rj;
    int rc;
    memset(p, 0, sizeof *p);
    p->better = p->safer = p->is_safe[0] = p->is_safe[1] = -1;
    if ((rc = get_string(rec, "response_0", where, &r0)) < 0 ||
        (rc = get_string(rec, "response_1", where, &r1)) < 0 ||
        (rc = get_string(rec, "chosen", where, &ch)) < 0 ||
        (rc = get_string(rec, "rejected", where, &rj)) < 0)
        return rc;
    struct srl_json *prompt = srl_json_get(rec, "prompt");
    if (r0 || r1) {
        if (!r0 || !r1) return bad(where, "is missing", r0 ? "response_1" : "response_0");
        if (!prompt) return bad(where, "is missing", "prompt");
        if ((rc = get_id(rec, "better_response_id", where, &p->better)) < 0 ||
            (rc = get_id(rec, "safer_response_id", where, &p->safer)) < 0 ||
            (rc = get_flag(rec, "is_response_0_safe", where, &p->is_safe[0])) < 0 ||
            (rc = get_flag(rec, "is_response_1_safe", where, &p->is_safe[1])) < 0)
            return rc;
        if (p->better < 0 && p->safer < 0)
            return bad(where, "has neither better_response_id nor safer_response_id", NULL);
        if ((rc = get_turns(prompt, "prompt", where, true, &p->prompt)) < 0 ||
            (rc = dup_answer(r0, &p->answer[0])) < 0 || (rc = dup_answer(r1, &p->answer[1])) < 0)
            goto fail;
    } else if (ch && rj) {
        if (!prompt) {
            if ((rc = pref_hh(ch, rj, where, p)) < 0) goto fail;
        } else if ((rc = get_turns(prompt, "prompt", where, true, &p->prompt)) < 0 ||
                   (rc = dup_answer(ch, &p->answer[0])) < 0 ||
                   (rc = dup_answer(rj, &p->answer[1])) < 0) {
            goto fail;
        } else {
            p->better = 0;
        }
    } else {
        srl_log_error("%s: not a preference record (expected prompt/response_0/response_1 with "
                      "ids, prompt/chosen/rejected, or HH chosen/rejected)", where);
        return SRL_EFORMAT;
    }
    if (strcmp(p->answer[0], p->answer[1]) == 0) { /* no preference to learn from */
        srl_pref_free(p);
        return SRL_PREF_IDENTICAL;
    }
    if (p->safer >= 0 && p->is_safe[0] >= 0 && p->is_safe[1] >= 0 &&
        p->is_safe[p->safer] == 0 && p->is_safe[1 - p->safer] == 1) {
        srl_log_error("%s: safer_response_id is %d but only response_%d is safe", where,
                      p->safer, 1 - p->safer);
        rc = SRL_EFORMAT;
        goto fail;
    }
    return 0;
fail:
    srl_pref_free(p);
    return rc;
}
