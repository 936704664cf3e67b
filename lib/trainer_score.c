/* trainer_score.c -- preference pair sets and the reward/cost-model training task. */
#include "trainer_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batching.h"
#include "srl.h"

// --- pair sets -------------------------------------------------------------------------------

static int pair_grow(struct srl_pair_set *s)
{
    if (s->n < s->cap) return 0;
    size_t cap = s->cap ? 2 * s->cap : 256;
    int8_t *sign = realloc(s->sign, 2 * cap * sizeof *sign);
    if (!sign) return SRL_ENOMEM;
    s->sign = sign;
    s->cap = cap;
    return 0;
}

/* Append a pair of tokenized sequences (copies). */
static int pair_append(struct srl_pair_set *s, int32_t *const ids[2], uint8_t *const train[2],
                       const int len[2], const int8_t sign[2], long line)
{
    int rc = pair_grow(s);
    for (int k = 0; rc == 0 && k < 2; k++)
        rc = srl_sft_append(&s->seq, ids[k], train[k], (size_t)len[k], line);
    if (rc < 0) return rc;
    s->sign[2 * s->n] = sign[0];
    s->sign[2 * s->n + 1] = sign[1];
    s->n++;
    return 0;
}

/* Which answer is "low" (better / safer) and the cost signs; SRL_EFORMAT when the record lacks
 * the label this model needs. */
static int pair_labels(const struct srl_json *rec, const struct srl_pref *p, const char *where,
                       enum srl_score_kind kind, int *low, int8_t sign[2])
{
    sign[0] = sign[1] = 0;
    if (kind == SRL_SCORE_REWARD) {
        if (p->better < 0) {
            srl_log_error("%s: no better_response_id (a reward model needs helpfulness labels)",
                          where);
            return SRL_EFORMAT;
        }
        *low = p->better;
        return 0;
    }
    *low = p->safer;
    if (*low < 0 && srl_json_get(rec, "chosen")) *low = 0; /* chosen/rejected: chosen is safer */
    if (*low < 0) {
        srl_log_error("%s: no safer_response_id (a cost model needs safety labels)", where);
        return SRL_EFORMAT;
    }
    for (int k = 0; k < 2; k++) {
        int safe = p->is_safe[k == 0 ? *low : 1 - *low];
        sign[k] = (int8_t)(safe < 0 ? 0 : safe ? -1 : 1);
    }
    return 0;
}

static int pair_record(struct srl_pair_set *s, const struct srl_json *rec, const char *where,
                       long line, const struct srl_pair_opts *o, const struct srl_template *hh)
{
    struct srl_pref p;
    int32_t *ids[2] = { NULL, NULL };
    uint8_t *train[2] = { NULL, NULL };
    int len[2] = { 0, 0 }, low = 0;
    int8_t sign[2];
    bool trunc[2] = { false, false };
    int rc = srl_record_pref(rec, where, &p);
    if (rc == SRL_PREF_IDENTICAL) {
        s->n_identical++;
        return 0;
    }
    if (rc < 0) return rc;
    if ((rc = pair_labels(rec, &p, where, o->kind, &low, sign)) < 0) goto out;
    const char **turns = malloc((p.prompt.n + 1) * sizeof *turns);
    if (!turns) {
        rc = SRL_ENOMEM;
        goto out;
    }
    for (size_t t = 0; t < p.prompt.n; t++) turns[t] = p.prompt.turns[t];
    for (int k = 0; k < 2 && rc == 0; k++) {
        turns[p.prompt.n] = p.answer[k == 0 ? low : 1 - low];
        len[k] = srl_tokenize_conv(o->tok, p.prompt.hh ? hh : o->tmpl, turns, p.prompt.n + 1,
                                   true, o->max_length, &ids[k], &train[k], &trunc[k]);
        if (len[k] < 0) {
            srl_log_error("%s: cannot tokenize the record", where);
            rc = len[k];
        }
    }
    free(turns);
    if (rc < 0) goto out;
    if (len[0] == len[1] && memcmp(ids[0], ids[1], (size_t)len[0] * sizeof *ids[0]) == 0) {
        if (trunc[0] || trunc[1]) /* the answers differ only past max_length */
            s->n_dropped++;
        else /* different text, same tokens (e.g. normalisation) */
            s->n_identical++;
        goto out;
    }
    if ((rc = pair_append(s, ids, train, len, sign, line)) < 0) goto out;
    s->n_truncated += trunc[0] || trunc[1];
    s->n_unsigned += sign[0] == 0 && sign[1] == 0;
out:
    for (int k = 0; k < 2; k++) {
        free(ids[k]);
        free(train[k]);
    }
    srl_pref_free(&p);
    return rc;
}

int srl_pair_read(struct srl_pair_set *s, const char *path, const struct srl_pair_opts *o)
{
    int err;
    const struct srl_template *hh = srl_template_find("hh");
    struct srl_jsonl *r = srl_jsonl_open(path, &err);
    if (!r) return err;
    struct srl_json *rec;
    char where[1100];
    for (;;) {
        err = srl_jsonl_next(r, &rec);
        if (err == SRL_EOF) break;
        if (err == 0) {
            long line = srl_jsonl_line(r);
            snprintf(where, sizeof where, "%s:%ld", path, line);
            s->n_records++;
            err = pair_record(s, rec, where, line, o, hh);
            srl_json_decref(rec);
        } else if (err == SRL_EFORMAT && o->skip_bad && srl_jsonl_recoverable(r)) {
            s->n_records++;
        }
        if (err == SRL_EFORMAT && o->skip_bad) {
            s->n_skipped++;
            srl_log_error_handled();
            continue;
        }
        if (err < 0) break;
    }
    srl_jsonl_close(r);
    return err == SRL_EOF ? 0 : err;
}

int srl_pair_split(struct srl_pair_set *s, double ratio, uint64_t seed,
                   struct srl_pair_set *eval)
{
    size_t n = s->n;
    struct srl_pair_set keep = { 0 };
    uint8_t *to_eval = srl_split_mask(n, ratio, seed);
    int rc = SRL_ENOMEM;
    if (!to_eval) goto out;
    for (size_t i = 0; i < n; i++) {
        struct srl_pair_set *dst = to_eval[i] ? eval : &keep;
        const struct srl_sft_set *q = &s->seq;
        int32_t *ids[2] = { q->ids + q->start[2 * i], q->ids + q->start[2 * i + 1] };
        uint8_t *tr[2] = { q->train + q->start[2 * i], q->train + q->start[2 * i + 1] };
        int len[2] = { (int)srl_sft_len(q, 2 * i), (int)srl_sft_len(q, 2 * i + 1) };
        if ((rc = pair_append(dst, ids, tr, len, s->sign + 2 * i, q->line[2 * i])) < 0)
            goto out;
        dst->n_unsigned += s->sign[2 * i] == 0 && s->sign[2 * i + 1] == 0;
    }
    keep.n_records = s->n_records;
    keep.n_skipped = s->n_skipped;
    keep.n_truncated = s->n_truncated;
    keep.n_dropped = s->n_dropped;
    keep.n_identical = s->n_identical;
    srl_pair_set_free(s);
    *s = keep;
    memset(&keep, 0, sizeof keep);
    rc = 0;
out:
    srl_pair_set_free(&keep);
    free(to_eval);
    return rc;
}

void srl_pair_set_free(struct srl_pair_set *s)
{
    if (!s) return;
    srl_sft_set_free(&s->seq);
    free(s->sign);
    memset(s, 0, sizeof *s);
}

// --- the task --------------------------------------------------------------------------------

/* Fill the (2B,T) batch [low rows; high rows] of pairs idx[0..B) of s. */
static int batch_fill(struct srl_score_task *st, const struct srl_pair_set *s, const size_t *idx,
                      int B, int *T_out, size_t *n_real)
{
    const struct srl_sft_set *q = &s->seq;
    int T = 0;
    for (int i = 0; i < B; i++)
        for (int k = 0; k < 2; k++) {
            int L = (int)srl_sft_len(q, 2 * idx[i] + k);
            T = L > T ? L : T;
        }
    size_t need = (size_t)2 * B * T;
    if (need > st->cap) {
        int32_t *tok = realloc(st->tokens, need * sizeof *tok);
        if (tok) st->tokens = tok;
        int32_t *pos = tok ? realloc(st->pos, need * sizeof *pos) : NULL;
        if (pos) st->pos = pos;
        float *sc = pos ? realloc(st->scores, need * sizeof *sc) : NULL;
        if (sc) st->scores = sc;
        float *ds = sc ? realloc(st->dscores, need * sizeof *ds) : NULL;
        if (!ds) return SRL_ENOMEM;
        st->dscores = ds;
        st->cap = need;
    }
    if ((size_t)2 * B > st->cap_rows) {
        int *end = realloc(st->end, (size_t)2 * B * sizeof *end);
        if (end) st->end = end;
        int8_t *sign = end ? realloc(st->sign, (size_t)2 * B * sizeof *sign) : NULL;
        if (sign) st->sign = sign;
        float *es = sign ? realloc(st->end_scores, (size_t)2 * B * sizeof *es) : NULL;
        if (es) st->end_scores = es;
        float *de = es ? realloc(st->d_end, (size_t)2 * B * sizeof *de) : NULL;
        if (!de) return SRL_ENOMEM;
        st->d_end = de;
        st->cap_rows = (size_t)2 * B;
    }
    *n_real = 0;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < B; i++) {
            int r = k * B + i;
            size_t e = 2 * idx[i] + k;
            int L = (int)srl_sft_len(q, e);
            const int32_t *ids = q->ids + q->start[e];
            for (int t = 0; t < T; t++) {
                st->tokens[(size_t)r * T + t] = t < L ? ids[t] : st->pad_id;
                st->pos[(size_t)r * T + t] = t < L ? t : -1;
            }
            st->end[r] = L - 1;
            st->sign[r] = s->sign[e];
            *n_real += (size_t)L;
        }
    *T_out = T;
    return 0;
}

/* Forward of pairs idx[0..B) of s: scores (2B,T) on the host, the loss, and (grad) dscores.
 * low/high (B) get the end scores when not NULL. */
static int pairs_forward(struct srl_score_task *st, struct srl_model *m,
                         const struct srl_pair_set *s, const size_t *idx, int B, bool grad,
                         float *loss, float *low, float *high, size_t *n_real)
{
    int T, rc = batch_fill(st, s, idx, B, &T, n_real);
    if (rc < 0) return rc;
    /* tokens (2B,T) -> scores (2B,T) */
    if ((rc = srl_model_forward(m, st->tokens, st->pos, 2 * B, T)) < 0) return rc;
    size_t N = (size_t)2 * B * T;
    if ((rc = m->be->download(st->scores, m->scores, N * sizeof *st->scores)) < 0) return rc;
    float *ds = grad ? st->dscores : NULL, *end = st->end_scores, *dend = st->d_end;
    const int8_t *sl = st->sign, *sh = st->sign + B;
    srl_score_gather_end(st->scores, st->end, 2 * B, T, end);
    if (low) memcpy(low, end, (size_t)B * sizeof *low);
    if (high) memcpy(high, end + B, (size_t)B * sizeof *high);
    if (st->loss_type == SRL_SCORE_SEQUENCE_WISE) {
        float *dl = grad ? dend : NULL, *dh = grad ? dend + B : NULL;
        rc = st->kind == SRL_SCORE_REWARD
                 ? srl_rm_loss_seq(end, end + B, B, st->reg, loss, dl, dh, NULL)
                 : srl_cm_loss_seq(end, end + B, sl, sh, B, st->reg, loss, dl, dh, NULL);
        if (rc == 0 && grad) srl_score_scatter_end(dend, st->end, 2 * B, T, ds);
    } else {
        size_t h = (size_t)B * T;
        const float *sc = st->scores;
        const int32_t *tk = st->tokens;
        rc = st->kind == SRL_SCORE_REWARD
                 ? srl_rm_loss_tok(sc, sc + h, tk, tk + h, st->end, st->end + B, B, T, st->reg,
                                   loss, ds, ds ? ds + h : NULL, NULL)
                 : srl_cm_loss_tok(sc, sc + h, tk, tk + h, st->end, st->end + B, sl, sh, B, T,
                                   st->reg, loss, ds, ds ? ds + h : NULL, NULL);
    }
    if (rc == 0 && grad) rc = srl_model_backward_score(m, ds);
    return rc;
}

static int score_micro_step(void *ctx, struct srl_model *m, const size_t *idx, size_t n,
                            double *loss, size_t *tokens)
{
    struct srl_score_task *st = ctx;
    float l;
    int rc = pairs_forward(st, m, st->train, idx, (int)n, true, &l, NULL, NULL, tokens);
    *loss = l;
    return rc;
}

int srl_score_pairs(struct srl_score_task *st, struct srl_model *m, const struct srl_pair_set *s,
                    float *low, float *high, double *loss)
{
    struct srl_batch_plan p;
    size_t *len = malloc((s->n ? s->n : 1) * sizeof *len), n_real;
    double sum = 0;
    int rc = len ? 0 : SRL_ENOMEM;
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        size_t a = srl_sft_len(&s->seq, 2 * i), b = srl_sft_len(&s->seq, 2 * i + 1);
        len[i] = a > b ? a : b;
    }
    if (rc == 0) rc = srl_batch_plan_sorted(&p, len, s->n, st->eval_batch_size);
    free(len);
    if (rc < 0) return rc;
    float *lo = malloc((size_t)st->eval_batch_size * 2 * sizeof *lo), *hi;
    if (!lo) rc = SRL_ENOMEM;
    hi = lo + st->eval_batch_size;
    for (size_t k = 0; rc == 0 && k < p.n_batches; k++) {
        const size_t *idx = p.order + p.first[k];
        int B = (int)(p.first[k + 1] - p.first[k]);
        float l;
        rc = pairs_forward(st, m, s, idx, B, false, &l, lo, hi, &n_real);
        for (int i = 0; rc == 0 && i < B; i++) {
            low[idx[i]] = lo[i];
            high[idx[i]] = hi[i];
        }
        sum += (double)l * B;
    }
    free(lo);
    srl_batch_plan_free(&p);
    if (loss) *loss = s->n ? sum / (double)s->n : 0.0;
    return rc;
}

static int score_evaluate(void *ctx, struct srl_model *m, struct srl_json *metrics)
{
    struct srl_score_task *st = ctx;
    const struct srl_pair_set *s = st->eval;
    struct srl_score_metrics met;
    double loss;
    float l;
    float *low = malloc(2 * s->n * sizeof *low), *high = low + s->n;
    int8_t *sl = malloc(2 * s->n * sizeof *sl), *sh = sl + s->n;
    int rc = low && sl ? 0 : SRL_ENOMEM;
    if (rc == 0) rc = srl_score_pairs(st, m, s, low, high, &loss);
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        sl[i] = s->sign[2 * i];
        sh[i] = s->sign[2 * i + 1];
    }
    /* the metrics of the whole set at once */
    if (rc == 0)
        rc = st->kind == SRL_SCORE_REWARD
                 ? srl_rm_loss_seq(low, high, (int)s->n, st->reg, &l, NULL, NULL, &met)
                 : srl_cm_loss_seq(low, high, sl, sh, (int)s->n, st->reg, &l, NULL, NULL, &met);
    free(low);
    free(sl);
    if (rc < 0) return rc;
    bool cost = st->kind == SRL_SCORE_COST;
    rc |= srl_json_object_set_number(metrics, "eval_loss", loss);
    rc |= srl_json_object_set_number(metrics, "eval_accuracy", met.accuracy);
    /* mean_high: the better (RM) / unsafer (CM) mean; mean_low: worse / safer */
    rc |= srl_json_object_set_number(metrics, cost ? "eval_safer_mean" : "eval_worse_mean",
                                     met.mean_low);
    rc |= srl_json_object_set_number(metrics, cost ? "eval_unsafer_mean" : "eval_better_mean",
                                     met.mean_high);
    if (cost && met.n_sign > 0)
        rc |= srl_json_object_set_number(metrics, "eval_accuracy_sign", met.accuracy_sign);
    rc |= srl_json_object_set_number(metrics, "eval_score_mean", met.mean);
    rc |= srl_json_object_set_number(metrics, "eval_score_std", met.std);
    rc |= srl_json_object_set_integer(metrics, "eval_pairs", (long long)s->n);
    /* pairs the same tokens after max_length were dropped when read (n_dropped): the
     * reference counts them wrong, as saferlhf-eval accuracy's accuracy_tie_as_wrong */
    rc |= srl_json_object_set_integer(metrics, "eval_pairs_tied", (long long)s->n_dropped);
    rc |= srl_json_object_set_number(metrics, "eval_accuracy_tie_as_wrong",
                                     s->n + s->n_dropped ? met.accuracy * (double)s->n /
                                                           (double)(s->n + s->n_dropped) : 0.0);
    return rc ? SRL_ENOMEM : 0;
}

int srl_score_task_init(struct srl_score_task *st, enum srl_score_kind kind,
                        enum srl_score_loss_type loss_type, float reg,
                        const struct srl_pair_set *train, const struct srl_pair_set *eval,
                        int32_t pad_id, int eval_batch_size)
{
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->loss_type = loss_type;
    st->reg = reg;
    st->train = train;
    st->eval = eval && eval->n ? eval : NULL;
    st->pad_id = pad_id;
    st->eval_batch_size = eval_batch_size > 0 ? eval_batch_size : 16;
    if (!(st->lengths = malloc((train->n ? train->n : 1) * sizeof *st->lengths)))
        return SRL_ENOMEM;
    for (size_t i = 0; i < train->n; i++) {
        size_t a = srl_sft_len(&train->seq, 2 * i), b = srl_sft_len(&train->seq, 2 * i + 1);
        st->lengths[i] = a > b ? a : b;
    }
    st->task.ctx = st;
    st->task.n = train->n;
    st->task.lengths = st->lengths;
    st->task.micro_step = score_micro_step;
    st->task.evaluate = st->eval ? score_evaluate : NULL;
    return 0;
}

void srl_score_task_free(struct srl_score_task *st)
{
    if (!st) return;
    free(st->lengths);
    free(st->tokens);
    free(st->pos);
    free(st->scores);
    free(st->dscores);
    free(st->end);
    free(st->sign);
    free(st->end_scores);
    free(st->d_end);
    memset(st, 0, sizeof *st);
}
