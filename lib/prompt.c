/* prompt.c -- prompt records to conversation turns (see prompt.h). */
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "srl.h"

void srl_prompt_free(char **turns, size_t n_turns)
{
    if (!turns)
        return;
    for (size_t i = 0; i < n_turns; i++)
        free(turns[i]);
    free(turns);
}

/* a + sep + b as a new string (a or b may be NULL: the other alone). */
static char *join(const char *a, const char *sep, const char *b)
{
    if (!a || !*a)
        return strdup(b ? b : "");
    if (!b || !*b)
        return strdup(a);
    size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);
    char *s = malloc(na + ns + nb + 1);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    memcpy(s + na, sep, ns);
    memcpy(s + na + ns, b, nb + 1);
    return s;
}

static int from_list(const struct srl_json *list, const char *where, char **t, size_t n)
{
    if (n % 2 == 0) {
        srl_log_error("%s: \"prompt\" is a list of %zu turns; expected an odd number "
                      "(ending with a user turn)", where, n);
        return SRL_EFORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = srl_json_string(srl_json_array_at(list, i));
        if (!s) {
            srl_log_error("%s: \"prompt\" turn %zu is not a string", where, i);
            return SRL_EFORMAT;
        }
        if (!(t[i] = strdup(s)))
            return SRL_ENOMEM;
    }
    return 0;
}

static int from_messages(const struct srl_json *msgs, const char *where, char **t, size_t *n)
{
    size_t m = srl_json_array_size(msgs), k = 0;
    char *system = NULL;
    int rc = SRL_EFORMAT;
    for (size_t i = 0; i < m; i++) {
        const struct srl_json *msg = srl_json_array_at(msgs, i);
        const char *role = srl_json_string(srl_json_get(msg, "role"));
        const char *content = srl_json_string(srl_json_get(msg, "content"));
        if (!role || !content) {
            srl_log_error("%s: message %zu lacks a string \"role\" or \"content\"", where, i);
            goto out;
        }
        if (!strcmp(role, "system")) {
            char *s = join(system, "\n\n", content);
            free(system);
            if (!(system = s)) {
                rc = SRL_ENOMEM;
                goto out;
            }
            continue;
        }
        const char *want = k % 2 == 0 ? "user" : "assistant";
        if (strcmp(role, want) != 0) {
            srl_log_error("%s: message %zu has role \"%s\"; expected \"%s\" (turns alternate "
                          "from a user turn)", where, i, role, want);
            goto out;
        }
        if (!(t[k] = k == 0 && system ? join(system, "\n\n", content) : strdup(content))) {
            rc = SRL_ENOMEM;
            goto out;
        }
        k++;
    }
    if (k % 2 == 0) {
        srl_log_error("%s: \"messages\" must end with a user turn", where);
        goto out;
    }
    rc = 0;
out:
    free(system);
    *n = k;
    return rc;
}

int srl_prompt_turns(const struct srl_json *rec, const char *where, char ***turns,
                     size_t *n_turns)
{
    const struct srl_json *prompt = srl_json_get(rec, "prompt");
    const struct srl_json *instr = srl_json_get(rec, "instruction");
    const struct srl_json *msgs = srl_json_get(rec, "messages");
    size_t n = 1, cap = 1;
    *turns = NULL;
    *n_turns = 0;
    if (prompt && srl_json_is_array(prompt))
        cap = srl_json_array_size(prompt);
    else if (!prompt && !instr && msgs && srl_json_is_array(msgs))
        cap = srl_json_array_size(msgs);
    char **t = calloc(cap ? cap : 1, sizeof *t);
    if (!t)
        return SRL_ENOMEM;
    int rc = 0;
    if (prompt && srl_json_is_string(prompt)) {
        rc = (t[0] = strdup(srl_json_string(prompt))) ? 0 : SRL_ENOMEM;
    } else if (prompt && srl_json_is_array(prompt)) {
        n = cap;
        rc = from_list(prompt, where, t, n);
    } else if (prompt) {
        srl_log_error("%s: \"prompt\" must be a string or a list of turns", where);
        rc = SRL_EFORMAT;
    } else if (instr) {
        const char *in = srl_json_string(srl_json_get(rec, "input"));
        if (!srl_json_is_string(instr) || (srl_json_get(rec, "input") && !in)) {
            srl_log_error("%s: \"instruction\" and \"input\" must be strings", where);
            rc = SRL_EFORMAT;
        } else {
            rc = (t[0] = join(srl_json_string(instr), " ", in)) ? 0 : SRL_ENOMEM;
        }
    } else if (msgs) {
        if (!srl_json_is_array(msgs)) {
            srl_log_error("%s: \"messages\" must be a list", where);
            rc = SRL_EFORMAT;
        } else {
            rc = from_messages(msgs, where, t, &n);
        }
    } else {
        srl_log_error("%s: no prompt field (expected prompt, instruction or messages)", where);
        rc = SRL_EFORMAT;
    }
    if (rc < 0) {
        srl_prompt_free(t, cap);
        if (rc == SRL_ENOMEM)
            srl_log_error("%s: out of memory", where);
        return rc;
    }
    *turns = t;
    *n_turns = n;
    return 0;
}

// --- prompt files ----------------------------------------------------------------------------

/* A record with a prompt field of some schema (srl_record_prompt's), not a container. */
static bool is_prompt_record(const struct srl_json *obj)
{
    static const char *const keys[] = { "prompt", "instruction", "messages", "chosen", "text" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (srl_json_get(obj, keys[i])) return true;
    return false;
}

struct srl_jsonl *srl_prompts_open(const char *path, const char *field, int *err)
{
    struct srl_jsonl_opts o = { .strings = true, .lists = true, .field = field,
                                .is_record = is_prompt_record };
    return srl_jsonl_open_opts(path, &o, err);
}

int srl_prompts_next(struct srl_jsonl *r, struct srl_json **rec)
{
    int rc = srl_jsonl_next(r, rec);
    if (rc < 0 || !srl_json_is_string(*rec)) return rc;
    struct srl_json *obj = srl_json_new_object();
    if (!obj || srl_json_object_set(obj, "prompt", *rec) < 0) { /* *rec taken over */
        srl_json_decref(obj);
        *rec = NULL;
        srl_log_error("%s:%ld: out of memory", srl_jsonl_path(r), srl_jsonl_line(r));
        return SRL_ENOMEM;
    }
    *rec = obj;
    return 0;
}
