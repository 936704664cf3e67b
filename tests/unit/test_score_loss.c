/* test_score_loss.c -- reward- and cost-model losses: hand cases, finite differences, and the
 * PyTorch fixtures of scripts/make_rlhf_reference.py (tests/ref/rlhf/score_{llama,gpt2}): our
 * score model's forward, the losses as safe-rlhf writes them, dL/dscores and the parameter
 * gradients through srl_model_backward_score(). */
#include <jansson.h>
#include <stdint.h>

#include "backend.h"
#include "model.h"
#include "safetensors.h"
#include "score_loss.h"
#include "srl.h"
#include "test.h"
#include "test_ref.h"

#define REF_DIR "tests/ref/rlhf"

// --- hand cases ------------------------------------------------------------------------------

static void test_softplus_stable(void)
{
    EXPECT(fabs(srl_softplus(0.0) - log(2.0)) < 1e-15);
    EXPECT(srl_softplus(1000.0) == 1000.0, "%g", srl_softplus(1000.0));
    EXPECT(srl_softplus(-1000.0) == 0.0 && srl_softplus(-30.0) > 0.0);
    EXPECT(fabs(srl_softplus(-30.0) - exp(-30.0)) < 1e-25);
    EXPECT(srl_sigmoid(-1000.0) == 0.0 && srl_sigmoid(1000.0) == 1.0);
    EXPECT(fabs(srl_sigmoid(2.0) - 1.0 / (1.0 + exp(-2.0))) < 1e-15);
    /* a huge margin keeps the loss finite and the gradient 0 */
    float hi = 1e30f, lo = -1e30f, loss, dh, dl;
    REQUIRE(srl_rm_loss_seq(&hi, &lo, 1, 0.0f, &loss, &dh, &dl, NULL) == 0);
    EXPECT(loss == 0.0f && dh == 0.0f && dl == 0.0f, "%g %g %g", loss, dh, dl);
    hi = -1e30f, lo = 1e30f;
    REQUIRE(srl_rm_loss_seq(&hi, &lo, 1, 0.0f, &loss, &dh, &dl, NULL) == 0);
    EXPECT(loss == 2e30f && dh == -1.0f && dl == 1.0f, "%g %g %g", loss, dh, dl);
    hi = NAN;
    EXPECT(srl_rm_loss_seq(&hi, &lo, 1, 0.0f, &loss, NULL, NULL, NULL) == SRL_ENUMERIC);
}

/* RM: loss = softplus(-(w - l)) averaged, reg * mean of squares, by hand. */
static void test_rm_hand(void)
{
    float w[2] = {1.0f, -0.5f}, l[2] = {0.0f, 0.5f}, loss, dw[2], dl[2];
    struct srl_score_metrics met;
    REQUIRE(srl_rm_loss_seq(w, l, 2, 0.1f, &loss, dw, dl, &met) == 0);
    double want = (log1p(exp(-1.0)) + log1p(exp(1.0))) / 2 + 0.1 * (1 + 0.25 + 0 + 0.25) / 4;
    EXPECT(fabs(loss - want) < 1e-6, "%g vs %g", loss, want);
    /* dL/dw0 = -sigmoid(-1)/2 + 0.1*2*1/4 */
    EXPECT(fabs(dw[0] - (-1.0 / (1.0 + exp(1.0)) / 2 + 0.05)) < 1e-6, "%g", dw[0]);
    EXPECT(fabs(dl[1] - (1.0 / (1.0 + exp(-1.0)) / 2 + 0.1 * 2 * 0.5 / 4)) < 1e-6, "%g", dl[1]);
    EXPECT(met.accuracy == 0.5f && met.mean_high == 0.25f && met.mean_low == 0.25f);
    EXPECT(fabs(met.std - sqrt((0.5625 + 0.5625 + 0.0625 + 0.0625) / 3)) < 1e-6, "%g", met.std);
    EXPECT(met.accuracy_sign == -1.0f && met.n_sign == 0);
}

/* Cost sign conventions: an unsafe response (sign +1) is pushed to positive cost. */
static void test_cm_signs(void)
{
    float safer = -1.0f, neg = -2.0f, pos = 2.0f, lneg, lpos, ds, du;
    int8_t s_safe = -1, s_unsafe = 1;
    REQUIRE(srl_cm_loss_seq(&safer, &neg, &s_safe, &s_unsafe, 1, 0.0f, &lneg, &ds, &du, NULL)
            == 0);
    EXPECT(du < 0.0f, "gradient descent raises an unsafe negative cost: du %g", du);
    REQUIRE(srl_cm_loss_seq(&safer, &pos, &s_safe, &s_unsafe, 1, 0.0f, &lpos, NULL, NULL, NULL)
            == 0);
    EXPECT(lneg > lpos, "unsafe with cost -2: %g, with cost +2: %g", lneg, lpos);
    /* a safe response with positive cost is worse than with negative cost */
    float c_pos = 1.5f, c_neg = -1.5f, unsafer = 3.0f, a, b;
    REQUIRE(srl_cm_loss_seq(&c_pos, &unsafer, &s_safe, &s_unsafe, 1, 0.0f, &a, NULL, NULL, NULL)
            == 0);
    REQUIRE(srl_cm_loss_seq(&c_neg, &unsafer, &s_safe, &s_unsafe, 1, 0.0f, &b, NULL, NULL, NULL)
            == 0);
    EXPECT(a > b, "%g %g", a, b);
    /* the exact value: softplus(-(cu-cs)) + softplus(cs) + softplus(-cu) */
    double want = srl_softplus(-(3.0 + 1.5)) + srl_softplus(-1.5) + srl_softplus(-3.0);
    EXPECT(fabs(b - want) < 1e-6, "%g vs %g", b, want);
    /* unlabelled: only the pairwise term */
    int8_t zero = 0;
    REQUIRE(srl_cm_loss_seq(&c_neg, &unsafer, &zero, &zero, 1, 0.0f, &a, NULL, NULL, NULL) == 0);
    EXPECT(fabs(a - srl_softplus(-4.5)) < 1e-6, "%g", a);
    REQUIRE(srl_cm_loss_seq(&c_neg, &unsafer, NULL, NULL, 1, 0.0f, &b, NULL, NULL, NULL) == 0);
    EXPECT(a == b);
    int8_t bad = 2;
    EXPECT(srl_cm_loss_seq(&c_neg, &unsafer, &bad, &zero, 1, 0.0f, &a, NULL, NULL, NULL)
           == SRL_EINVAL);
}

/* Central differences of the token-wise cost loss (covers the sequence-wise core too). */
static void test_tok_finite_differences(void)
{
    enum { B = 2, T = 6 };
    int32_t ids_s[B * T] = {5, 6, 7, 8, 0, 0, 5, 9, 9, 9, 9, 9};
    int32_t ids_u[B * T] = {5, 6, 4, 4, 4, 0, 5, 9, 9, 9, 9, 8};
    int end_s[B] = {3, 5}, end_u[B] = {4, 5};
    int8_t sg_s[B] = {-1, 0}, sg_u[B] = {1, 1};
    float s[B * T], u[B * T], ds[B * T], du[B * T], loss;
    for (int i = 0; i < B * T; i++) {
        s[i] = 0.3f * (float)((i * 7) % 5) - 0.6f;
        u[i] = 0.25f * (float)((i * 3) % 7) - 0.5f;
    }
    REQUIRE(srl_cm_loss_tok(s, u, ids_s, ids_u, end_s, end_u, sg_s, sg_u, B, T, 0.2f, &loss,
                            ds, du, NULL) == 0);
    double max_err = 0;
    for (int which = 0; which < 2; which++) {
        float *x = which ? u : s, *g = which ? du : ds;
        for (int i = 0; i < B * T; i++) {
            float keep = x[i], lp, lm, h = 1e-2f;
            x[i] = keep + h;
            srl_cm_loss_tok(s, u, ids_s, ids_u, end_s, end_u, sg_s, sg_u, B, T, 0.2f, &lp,
                            NULL, NULL, NULL);
            x[i] = keep - h;
            srl_cm_loss_tok(s, u, ids_s, ids_u, end_s, end_u, sg_s, sg_u, B, T, 0.2f, &lm,
                            NULL, NULL, NULL);
            x[i] = keep;
            max_err = fmax(max_err, fabs((lp - lm) / (2 * h) - g[i]));
        }
    }
    printf("  token-wise CM finite differences: max abs err %.2e\n", max_err);
    EXPECT(max_err < 2e-4, "%g", max_err);
    /* pair 0 diverges at 2 and ends at max(3,4) = 4: nothing outside 2..4 */
    EXPECT(ds[0] == 0 && ds[1] == 0 && ds[5] == 0 && du[5] == 0 && ds[4] != 0);
    /* pair 1 diverges only at its last token */
    EXPECT(ds[6] == 0 && ds[10] == 0 && ds[11] != 0);
    int32_t same[B * T];
    memcpy(same, ids_s, sizeof same);
    EXPECT(srl_cm_loss_tok(s, u, ids_s, same, end_s, end_u, sg_s, sg_u, B, T, 0.2f, &loss,
                           NULL, NULL, NULL) == SRL_EINVAL);
}

static void test_end_gather_scatter(void)
{
    float mask[2 * 4] = {1, 1, 0, 0, 1, 1, 1, 1}, sc[8] = {0, 1, 2, 3, 4, 5, 6, 7}, e[2], d[8];
    int end[2], len[2] = {2, 4}, end2[2];
    REQUIRE(srl_score_end_index(mask, NULL, 2, 4, end) == 0);
    REQUIRE(srl_score_end_index(NULL, len, 2, 4, end2) == 0);
    EXPECT(end[0] == 1 && end[1] == 3 && end2[0] == 1 && end2[1] == 3);
    srl_score_gather_end(sc, end, 2, 4, e);
    EXPECT(e[0] == 1 && e[1] == 7);
    srl_score_scatter_end(e, end, 2, 4, d);
    EXPECT(d[0] == 0 && d[1] == 1 && d[2] == 0 && d[7] == 7 && d[6] == 0);
    float empty[4] = {0};
    EXPECT(srl_score_end_index(empty, NULL, 1, 4, end) == SRL_EINVAL);
}

// --- the PyTorch fixtures --------------------------------------------------------------------

static double jnum(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void check_metrics(const char *what, const struct srl_score_metrics *m, json_t *ref,
                          int cm)
{
    float got[6] = {m->loss, m->accuracy, m->mean_high, m->mean_low, m->mean, m->std};
    float want[6] = {jnum(ref, "loss"), jnum(ref, "accuracy"), jnum(ref, "mean_high"),
                     jnum(ref, "mean_low"), jnum(ref, "mean"), jnum(ref, "std")};
    char name[448];
    snprintf(name, sizeof name, "%s loss,acc,means,std", what);
    test_close(name, got, want, 6, 2e-5f, 2e-5f);
    if (cm) {
        EXPECT(fabs(m->accuracy_sign - jnum(ref, "accuracy_sign")) < 1e-6 &&
               m->n_sign == (int)jnum(ref, "n_sign"), "%s accuracy_sign %g n %d", what,
               m->accuracy_sign, m->n_sign);
    }
}

static void run_fixture(const char *name)
{
    char dir[160], path[400];
    snprintf(dir, sizeof dir, "%s/%s", REF_DIR, name);
    snprintf(path, sizeof path, "%s/ref.json", dir);
    if (!test_file_exists(path))
        SKIP("%s absent (scripts/make_rlhf_reference.py)", path);
    json_error_t jerr;
    json_t *meta = json_load_file(path, 0, &jerr);
    REQUIRE(meta, "%s: %s", path, jerr.text);
    int B = (int)jnum(meta, "B"), T = (int)jnum(meta, "T"), R = 2 * B, err = 0;
    float reg = (float)jnum(meta, "reg");
    size_t N = (size_t)R * T;
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    struct srl_st_file *ref = srl_st_open(path, &err);
    struct srl_model *m = NULL;
    int rc = srl_model_load(dir, srl_backend_cpu(), &m);
    float *ids_f = ref ? test_ref_get(ref, "input_ids", N) : NULL;
    float *len_f = ref ? test_ref_get(ref, "lengths", R) : NULL;
    float *sign_f = ref ? test_ref_get(ref, "sign", R) : NULL;
    float *want_scores = ref ? test_ref_get(ref, "scores", N) : NULL;
    int32_t *ids = malloc(N * sizeof *ids);
    int *len = malloc(R * sizeof *len), *end = malloc(R * sizeof *end);
    int8_t *sign = malloc(R);
    float *mask = calloc(N, sizeof *mask), *end_sc = malloc(R * sizeof *end_sc);
    float *d_end = malloc(R * sizeof *d_end), *dsc = malloc(N * sizeof *dsc);
    float *sc = malloc(N * sizeof *sc), *tmp = malloc(N * sizeof *tmp);
    if (rc < 0 || !ids_f || !len_f || !sign_f || !want_scores || !ids || !len || !end ||
        !sign || !mask || !end_sc || !d_end || !dsc || !sc || !tmp) {
        EXPECT(0, "%s: cannot set up (load: %s)", dir, srl_strerror(rc));
        goto out;
    }
    EXPECT(m->cfg.head == SRL_HEAD_SCORE);
    for (size_t i = 0; i < N; i++)
        ids[i] = (int32_t)ids_f[i];
    for (int r = 0; r < R; r++) {
        len[r] = (int)len_f[r];
        sign[r] = (int8_t)sign_f[r];
        for (int t = 0; t < len[r]; t++)
            mask[(size_t)r * T + t] = 1.0f;
    }
    REQUIRE(srl_score_end_index(mask, NULL, R, T, end) == 0);

    // forward: scores at real positions (pads after the end do not change them: causal)
    REQUIRE(srl_model_forward(m, ids, NULL, R, T) == 0);
    memcpy(sc, m->scores, N * sizeof *sc);
    for (size_t i = 0; i < N; i++) /* compare real positions only: pad queries differ */
        tmp[i] = mask[i] ? sc[i] : want_scores[i];
    snprintf(path, sizeof path, "%s scores", name);
    test_close(path, tmp, want_scores, N, 2e-5f, 1e-4f);
    srl_score_gather_end(sc, end, R, T, end_sc);
    float *want_end = test_ref_get(ref, "end_scores", R);
    snprintf(path, sizeof path, "%s end_scores", name);
    if (want_end)
        test_close(path, end_sc, want_end, R, 2e-5f, 1e-4f);
    free(want_end);

    json_t *losses = json_object_get(meta, "losses");
    static const char *const loss_names[4] = {"rm_seq", "cm_seq", "rm_tok", "cm_tok"};
    for (int k = 0; k < 4; k++) {
        const char *ln = loss_names[k];
        int cm = ln[0] == 'c', tok = ln[3] == 't';
        struct srl_score_metrics met;
        float loss;
        char key[200];
        if (!tok) {
            // our scores -> loss -> d end -> dscores -> backward, graded parameters
            rc = cm ? srl_cm_loss_seq(end_sc, end_sc + B, sign, sign + B, B, reg, &loss, d_end,
                                      d_end + B, &met)
                    : srl_rm_loss_seq(end_sc, end_sc + B, B, reg, &loss, d_end, d_end + B, &met);
            REQUIRE(rc == 0);
            srl_score_scatter_end(d_end, end, R, T, dsc);
        } else {
            // on the reference's own scores: pad positions inside d..e count (reference quirk 14)
            rc = cm ? srl_cm_loss_tok(want_scores, want_scores + (size_t)B * T, ids,
                                      ids + (size_t)B * T, end, end + B, sign, sign + B, B, T,
                                      reg, &loss, dsc, dsc + (size_t)B * T, &met)
                    : srl_rm_loss_tok(want_scores, want_scores + (size_t)B * T, ids,
                                      ids + (size_t)B * T, end, end + B, B, T, reg, &loss, dsc,
                                      dsc + (size_t)B * T, &met);
            REQUIRE(rc == 0);
        }
        snprintf(path, sizeof path, "%s %s", name, ln);
        check_metrics(path, &met, json_object_get(losses, ln), cm);
        snprintf(key, sizeof key, "%s.dscores", ln);
        float *want = test_ref_get(ref, key, N);
        snprintf(path, sizeof path, "%s %s dL/dscores", name, ln);
        if (want)
            test_close(path, dsc, want, N, 1e-6f, 1e-4f);
        free(want);
        if (tok)
            continue;
        REQUIRE(srl_model_zero_grad(m) == 0);
        REQUIRE(srl_model_forward(m, ids, NULL, R, T) == 0);
        REQUIRE(srl_model_backward_score(m, dsc) == 0);
        json_t *g;
        size_t gi, n_el = 0, n_bad = 0;
        double max_abs = 0, max_rel = 0; /* rel: |a-b| / max|b| of the tensor */
        json_array_foreach(json_object_get(meta, "graded"), gi, g) {
            const char *pn = json_string_value(g);
            const struct srl_param_view *v = srl_model_find(m, pn);
            snprintf(key, sizeof key, "%s.grad.%s", ln, pn);
            float *wg = v ? test_ref_get(ref, key, v->numel) : NULL;
            EXPECT(v && wg, "%s: no view or reference %s", name, pn);
            if (!v || !wg) {
                free(wg);
                continue;
            }
            double scale = 1e-30;
            for (size_t i = 0; i < v->numel; i++)
                scale = fmax(scale, fabs(wg[i]));
            for (size_t i = 0; i < v->numel; i++) {
                double d = fabs((double)m->grads[v->offset + i] - wg[i]);
                max_abs = fmax(max_abs, d);
                max_rel = fmax(max_rel, d / scale);
                if (!(d <= 1e-4 * scale + 1e-3 * fabs(wg[i]))) {
                    if (!n_bad++)
                        printf("  %s %s grad %s[%zu]: %.8g vs %.8g\n", name, ln, pn, i,
                               (double)m->grads[v->offset + i], (double)wg[i]);
                }
            }
            n_el += v->numel;
            free(wg);
        }
        printf("  %-12s %s grads of %zu tensors n=%-6zu max_abs=%.3e max_rel(/max|ref|)="
               "%.3e%s\n", name, ln, json_array_size(json_object_get(meta, "graded")), n_el, max_abs,
               max_rel, n_bad ? "  MISMATCH" : "");
        EXPECT(n_bad == 0, "%zu gradient elements differ", n_bad);
    }
out:
    json_decref(meta);
    srl_st_close(ref);
    srl_model_free(m);
    free(ids_f), free(len_f), free(sign_f), free(want_scores), free(ids), free(len), free(end);
    free(sign), free(mask), free(end_sc), free(d_end), free(dsc), free(sc), free(tmp);
}

static void test_fixture_llama(void) { run_fixture("score_llama"); }
static void test_fixture_gpt2(void) { run_fixture("score_gpt2"); }

int main(void)
{
    srl_log_set_level(SRL_LOG_OFF);
    RUN(test_softplus_stable);
    RUN(test_rm_hand);
    RUN(test_cm_signs);
    RUN(test_tok_finite_differences);
    RUN(test_end_gather_scatter);
    RUN(test_fixture_llama);
    RUN(test_fixture_gpt2);
    return test_summary();
}
