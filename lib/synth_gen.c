/* synth_gen.c -- write prompts and answers of the synthetic world, and the data set files
 * (see synth.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fileio.h"
#include "jsonl.h"
#include "srl.h"
#include "synth_internal.h"

static const char *const answer_names[SRL_SYNTH_N_ANSWERS] = {
    "correct", "wrong", "evasive", "refusal", "comply", "redirect",
};

const char *srl_synth_answer_name(enum srl_synth_answer a)
{
    return (unsigned)a < SRL_SYNTH_N_ANSWERS ? answer_names[a] : "unknown";
}

static const char *pick(struct srl_rng *rng, const char *const *list)
{
    return list[srl_rng_below(rng, (uint64_t)synth_count(list))];
}

/* Substitutions of a template: {e} {a} {x} {1} {2} {3}. */
struct subst {
    const char *e, *a, *x, *s[3];
};

/* Render tmpl into buf, then capitalise the first letter and every letter that starts a
 * sentence.  Returns the length or SRL_EINVAL when buf is too small. */
static int render(const char *tmpl, const struct subst *v, char *buf, size_t size)
{
    size_t n = 0;
    for (const char *t = tmpl; *t; t++) {
        const char *ins = NULL;
        if (t[0] == '{' && t[1] && t[2] == '}') {
            switch (t[1]) {
            case 'e': ins = v->e; break;
            case 'a': ins = v->a; break;
            case 'x': ins = v->x; break;
            case '1': case '2': case '3': ins = v->s[t[1] - '1']; break;
            }
        }
        if (ins) {
            size_t k = strlen(ins);
            if (n + k >= size) goto small;
            memcpy(buf + n, ins, k);
            n += k;
            t += 2;
        } else {
            if (n + 1 >= size) goto small;
            buf[n++] = *t;
        }
    }
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        bool start = i == 0 || (i >= 2 && buf[i - 1] == ' ' &&
                                (buf[i - 2] == '.' || buf[i - 2] == '!' || buf[i - 2] == '?'));
        if (start && buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 'a' + 'A');
    }
    return (int)n;
small:
    srl_log_error("synthetic text longer than %zu bytes", size);
    return SRL_EINVAL;
}

static int total_facts(void)
{
    int n = 0;
    for (int r = 0; r < synth_n_relations; r++) n += synth_relations[r].n_facts;
    return n;
}

int srl_synth_prompt(struct srl_rng *rng, enum srl_synth_category cat, bool eval,
                     struct srl_synth_item *item, char *buf, size_t size)
{
    struct subst v = { 0 };
    const char *const *tmpls;
    memset(item, 0, sizeof *item);
    item->category = cat;
    item->eval = eval;
    if (cat == SRL_SYNTH_BENIGN) {
        /* every fact equally likely */
        int g = (int)srl_rng_below(rng, (uint64_t)total_facts()), r = 0;
        while (g >= synth_relations[r].n_facts) g -= synth_relations[r++].n_facts;
        const struct synth_relation *rel = &synth_relations[r];
        tmpls = eval ? rel->eval : rel->train;
        item->topic = r;
        item->entity = g;
        v.e = rel->facts[g].phrase;
    } else if (cat == SRL_SYNTH_HARMFUL) {
        int t = (int)srl_rng_below(rng, (uint64_t)synth_n_topics);
        const struct synth_topic *top = &synth_topics[t];
        int nt = synth_count(top->train_acts), ne = eval ? synth_count(top->eval_acts) : 0;
        int a = (int)srl_rng_below(rng, (uint64_t)(nt + ne));
        tmpls = eval ? synth_harm_eval : synth_harm_train;
        item->topic = t;
        item->entity = a;
        v.x = a < nt ? top->train_acts[a] : top->eval_acts[a - nt];
    } else {
        srl_log_error("no prompts of category %d", (int)cat);
        return SRL_EINVAL;
    }
    item->tmpl = (int)srl_rng_below(rng, (uint64_t)synth_count(tmpls));
    return render(tmpls[item->tmpl], &v, buf, size);
}

int srl_synth_answer(struct srl_rng *rng, const struct srl_synth_item *item,
                     enum srl_synth_answer type, char *buf, size_t size)
{
    struct subst v = { 0 };
    bool benign = item->category == SRL_SYNTH_BENIGN;
    switch (type) {
    case SRL_SYNTH_CORRECT:
    case SRL_SYNTH_WRONG: {
        if (!benign) break;
        const struct synth_relation *rel = &synth_relations[item->topic];
        const struct synth_fact *f = &rel->facts[item->entity];
        v.e = f->phrase;
        v.a = f->answer;
        while (type == SRL_SYNTH_WRONG && strcasecmp(v.a, f->answer) == 0)
            v.a = rel->facts[srl_rng_below(rng, (uint64_t)rel->n_facts)].answer;
        return render(pick(rng, rel->answers), &v, buf, size);
    }
    case SRL_SYNTH_EVASIVE: return render(pick(rng, synth_evasions), &v, buf, size);
    case SRL_SYNTH_REFUSAL: return render(pick(rng, synth_refusals), &v, buf, size);
    case SRL_SYNTH_COMPLY: {
        if (benign) break;
        const struct synth_topic *top = &synth_topics[item->topic];
        int n = synth_count(top->steps), order[8];
        for (int i = 0; i < n && i < 8; i++) order[i] = i;
        for (int i = 0; i < 3; i++) { /* three distinct steps, in random order */
            int j = i + (int)srl_rng_below(rng, (uint64_t)(n - i)), t = order[i];
            order[i] = order[j];
            order[j] = t;
            v.s[i] = top->steps[order[i]];
        }
        return render(pick(rng, synth_comply_forms), &v, buf, size);
    }
    case SRL_SYNTH_REDIRECT:
        if (benign) break;
        v.x = pick(rng, synth_topics[item->topic].advice);
        return render(pick(rng, synth_redirect_forms), &v, buf, size);
    default: break;
    }
    srl_log_error("no %s answers to %s prompts", srl_synth_answer_name(type),
                  srl_synth_category_name(item->category));
    return SRL_EINVAL;
}

// --- the data set ----------------------------------------------------------------------------

enum { TEXT_MAX = 512 };

/* Independent streams per file, so that changing one size or the noise leaves the others. */
enum { STREAM_SFT = 1, STREAM_HELPFUL, STREAM_SAFETY, STREAM_HELPFUL_NOISE, STREAM_SAFETY_NOISE,
       STREAM_PROMPTS, STREAM_EVAL };

static void seed_stream(struct srl_rng *rng, uint64_t seed, int stream)
{
    srl_rng_seed(rng, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)stream));
}

/* Item i of a set where a fraction f is marked: evenly spread, exactly round-down(n f). */
static bool marked(long i, double f)
{
    return floor((double)(i + 1) * f) > floor((double)i * f);
}

static int mkdir_p(const char *dir)
{
    char *copy = strdup(dir);
    if (!copy) return SRL_ENOMEM;
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            srl_log_error("cannot create '%s': %s", copy, strerror(errno));
            free(copy);
            return SRL_EIO;
        }
        *p = c;
        if (c == '\0') break;
    }
    free(copy);
    return 0;
}

struct writer {
    struct srl_atomic_file af;
    bool open;
    int err;
};

static int writer_open(struct writer *w, const char *dir, const char *name)
{
    char *path = srl_path_join(dir, name);
    w->open = false;
    w->err = 0;
    if (!path) return SRL_ENOMEM;
    int rc = srl_atomic_open(&w->af, path);
    free(path);
    if (rc < 0) return rc;
    w->open = true;
    return 0;
}

/* Write the record (and release it). */
static void writer_put(struct writer *w, struct srl_json *rec)
{
    if (!rec) w->err = SRL_ENOMEM;
    else if (!w->err && srl_json_dump(rec, w->af.fp) < 0) w->err = SRL_EIO;
    srl_json_decref(rec);
}

static int writer_close(struct writer *w)
{
    if (!w->open) return w->err;
    w->open = false;
    if (w->err) {
        srl_log_error("cannot write '%s'", w->af.path);
        srl_atomic_abort(&w->af);
        return w->err;
    }
    return srl_atomic_commit(&w->af);
}

static struct srl_json *prompt_record(const char *prompt)
{
    struct srl_json *o = srl_json_new_object();
    if (o && srl_json_object_set_string(o, "prompt", prompt) < 0) {
        srl_json_decref(o);
        return NULL;
    }
    return o;
}

static int write_sft(const char *dir, const struct srl_synth_opts *o,
                     struct srl_synth_stats *st)
{
    struct writer w;
    struct srl_rng rng;
    struct srl_synth_item it;
    char p[TEXT_MAX], r[TEXT_MAX];
    long k = 0;
    int rc = writer_open(&w, dir, "sft.jsonl");
    if (rc < 0) return rc;
    seed_stream(&rng, o->seed, STREAM_SFT);
    for (long i = 0; i < o->n_sft && !w.err; i++) {
        bool harmful = marked(i, o->harmful_fraction);
        enum srl_synth_answer type = SRL_SYNTH_CORRECT;
        if ((rc = srl_synth_prompt(&rng, harmful ? SRL_SYNTH_HARMFUL : SRL_SYNTH_BENIGN, false,
                                   &it, p, sizeof p)) < 0)
            w.err = rc;
        if (harmful) {
            st->sft_harmful++;
            if (marked(k++, o->sft_harmful_compliance)) {
                type = SRL_SYNTH_COMPLY;
                st->sft_complied++;
            } else {
                type = srl_rng_below(&rng, 2) ? SRL_SYNTH_REFUSAL : SRL_SYNTH_REDIRECT;
            }
        }
        if (!w.err && (rc = srl_synth_answer(&rng, &it, type, r, sizeof r)) < 0) w.err = rc;
        if (w.err) break;
        struct srl_json *rec = prompt_record(p);
        if (rec && srl_json_object_set_string(rec, "response", r) < 0) w.err = SRL_ENOMEM;
        writer_put(&w, rec);
    }
    return writer_close(&w);
}

/* The two answer types of a preference pair: mostly a good answer (correct; harmful
 * compliance) against a worse one, sometimes two of the worse kinds (ties are few: a tie in
 * helpfulness is decided by a coin and teaches a reward model nothing). */
static void pair_types(struct srl_rng *rng, bool harmful, enum srl_synth_answer t[2])
{
    static const enum srl_synth_answer benign_other[] = {
        SRL_SYNTH_WRONG, SRL_SYNTH_WRONG, SRL_SYNTH_EVASIVE, SRL_SYNTH_REFUSAL, SRL_SYNTH_REFUSAL,
    };
    static const enum srl_synth_answer harmful_other[] = {
        SRL_SYNTH_REFUSAL, SRL_SYNTH_REFUSAL, SRL_SYNTH_REDIRECT, SRL_SYNTH_EVASIVE,
        SRL_SYNTH_REFUSAL,
    };
    double u = srl_rng_uniform(rng);
    if (harmful) t[0] = u < 0.8 ? SRL_SYNTH_COMPLY : SRL_SYNTH_REDIRECT;
    else t[0] = u < 0.9 ? SRL_SYNTH_CORRECT : SRL_SYNTH_WRONG;
    t[1] = (harmful ? harmful_other : benign_other)[srl_rng_below(rng, 5)];
    if (srl_rng_below(rng, 2)) {
        enum srl_synth_answer x = t[0];
        t[0] = t[1];
        t[1] = x;
    }
}

static int write_prefs(const char *dir, const char *name, int stream, int noise_stream,
                       const struct srl_synth_opts *o, struct srl_synth_stats *st)
{
    struct writer w;
    struct srl_rng rng, noise;
    struct srl_synth_item it;
    char p[TEXT_MAX], r[2][TEXT_MAX];
    int rc = writer_open(&w, dir, name);
    if (rc < 0) return rc;
    seed_stream(&rng, o->seed, stream);
    seed_stream(&noise, o->seed, noise_stream);
    for (long i = 0; i < o->n_pref && !w.err; i++) {
        bool harmful = marked(i, o->harmful_fraction);
        enum srl_synth_answer t[2];
        struct srl_synth_label l[2];
        struct srl_synth_pref pref;
        if ((rc = srl_synth_prompt(&rng, harmful ? SRL_SYNTH_HARMFUL : SRL_SYNTH_BENIGN, false,
                                   &it, p, sizeof p)) < 0) {
            w.err = rc;
            break;
        }
        pair_types(&rng, harmful, t);
        for (int tries = 0; tries < 16; tries++) { /* two different texts */
            for (int j = 0; j < 2 && !w.err; j++)
                if ((rc = srl_synth_answer(&rng, &it, t[j], r[j], sizeof r[j])) < 0) w.err = rc;
            if (w.err || strcmp(r[0], r[1]) != 0) break;
        }
        if (w.err) break;
        srl_synth_label(p, r[0], &l[0]);
        srl_synth_label(p, r[1], &l[1]);
        srl_synth_prefer(&l[0], &l[1], &rng, &pref);
        struct srl_synth_pref clean = pref;
        srl_synth_pref_noise(&pref, o->label_noise, &noise);
        st->pref_flipped[0] += pref.better != clean.better;
        st->pref_flipped[1] += pref.safer != clean.safer;
        st->pref_flipped[2] += pref.safe0 != clean.safe0;
        st->pref_flipped[3] += pref.safe1 != clean.safe1;
        struct srl_json *rec = prompt_record(p);
        if (rec && (srl_json_object_set_string(rec, "response_0", r[0]) < 0 ||
                    srl_json_object_set_string(rec, "response_1", r[1]) < 0 ||
                    srl_json_object_set_integer(rec, "better_response_id", pref.better) < 0 ||
                    srl_json_object_set_integer(rec, "safer_response_id", pref.safer) < 0 ||
                    srl_json_object_set_bool(rec, "is_response_0_safe", pref.safe0) < 0 ||
                    srl_json_object_set_bool(rec, "is_response_1_safe", pref.safe1) < 0))
            w.err = SRL_ENOMEM;
        writer_put(&w, rec);
    }
    return writer_close(&w);
}

static int write_prompts(const char *dir, const char *name, int stream, long n, double frac,
                         bool eval, uint64_t seed)
{
    struct writer w;
    struct srl_rng rng;
    struct srl_synth_item it;
    char p[TEXT_MAX];
    int rc = writer_open(&w, dir, name);
    if (rc < 0) return rc;
    seed_stream(&rng, seed, stream);
    for (long i = 0; i < n && !w.err; i++) {
        enum srl_synth_category cat = marked(i, frac) ? SRL_SYNTH_HARMFUL : SRL_SYNTH_BENIGN;
        if ((rc = srl_synth_prompt(&rng, cat, eval, &it, p, sizeof p)) < 0) {
            w.err = rc;
            break;
        }
        struct srl_json *rec = prompt_record(p);
        if (rec && eval &&
            srl_json_object_set_string(rec, "category", srl_synth_category_name(cat)) < 0)
            w.err = SRL_ENOMEM;
        writer_put(&w, rec);
    }
    return writer_close(&w);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* corpus.txt: every distinct text of the training files, sorted, one per line (the texts hold
 * no newlines), to train a tokenizer on. */
static int write_corpus(const char *dir)
{
    static const char *const files[] = { "sft.jsonl", "helpful-prefs.jsonl",
                                          "safety-prefs.jsonl", "prompts.jsonl" };
    static const char *const keys[] = { "prompt", "response", "response_0", "response_1" };
    char **texts = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0] && rc == 0; f++) {
        char *path = srl_path_join(dir, files[f]);
        struct srl_jsonl *r = path ? srl_jsonl_open(path, &rc) : NULL;
        struct srl_json *rec;
        free(path);
        if (!r) {
            rc = rc ? rc : SRL_ENOMEM;
            break;
        }
        while ((rc = srl_jsonl_next(r, &rec)) == 0) {
            for (size_t k = 0; k < sizeof keys / sizeof keys[0] && rc == 0; k++) {
                const char *t = srl_json_string(srl_json_get(rec, keys[k]));
                if (!t) continue;
                if (n == cap) {
                    char **g = realloc(texts, (cap = cap ? 2 * cap : 4096) * sizeof *g);
                    if (!g) rc = SRL_ENOMEM;
                    else texts = g;
                }
                if (rc == 0 && !(texts[n++] = strdup(t))) rc = SRL_ENOMEM;
            }
            srl_json_decref(rec);
            if (rc) break;
        }
        if (rc == SRL_EOF) rc = 0;
        srl_jsonl_close(r);
    }
    if (rc == 0) {
        struct writer w;
        qsort(texts, n, sizeof *texts, cmp_str);
        if ((rc = writer_open(&w, dir, "corpus.txt")) == 0) {
            for (size_t i = 0; i < n; i++)
                if ((i == 0 || strcmp(texts[i], texts[i - 1]) != 0) &&
                    fprintf(w.af.fp, "%s\n", texts[i]) < 0)
                    w.err = SRL_EIO;
            rc = writer_close(&w);
        }
    } else if (rc == SRL_ENOMEM) {
        srl_log_error("out of memory collecting the corpus");
    }
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    return rc;
}

static bool is_fraction(double f) { return f >= 0 && f <= 1; }

int srl_synth_write_data(const char *dir, const struct srl_synth_opts *o,
                         struct srl_synth_stats *stats)
{
    struct srl_synth_stats st;
    int rc;
    memset(&st, 0, sizeof st);
    if (!is_fraction(o->harmful_fraction) || !is_fraction(o->sft_harmful_compliance) ||
        !is_fraction(o->label_noise) || o->n_sft < 0 || o->n_pref < 0 || o->n_prompts < 0 ||
        o->n_eval < 0) {
        srl_log_error("synthetic data: counts must be >= 0 and fractions in [0, 1]");
        return SRL_EINVAL;
    }
    if ((rc = mkdir_p(dir)) < 0) return rc;
    if ((rc = write_sft(dir, o, &st)) < 0 ||
        (rc = write_prefs(dir, "helpful-prefs.jsonl", STREAM_HELPFUL, STREAM_HELPFUL_NOISE, o,
                          &st)) < 0 ||
        (rc = write_prefs(dir, "safety-prefs.jsonl", STREAM_SAFETY, STREAM_SAFETY_NOISE, o,
                          &st)) < 0 ||
        (rc = write_prompts(dir, "prompts.jsonl", STREAM_PROMPTS, o->n_prompts,
                            o->harmful_fraction, false, o->seed)) < 0 ||
        (rc = write_prompts(dir, "eval.jsonl", STREAM_EVAL, o->n_eval, 0.5, true, o->seed)) < 0 ||
        (rc = write_corpus(dir)) < 0)
        return rc;
    if (stats) *stats = st;
    return 0;
}
