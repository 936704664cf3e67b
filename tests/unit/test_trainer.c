/* test_trainer.c -- the shared training loop through its library API (what the RM/CM and PPO
 * trainers build on): stop + resume = one uninterrupted run bit for bit (weights, moments, the
 * caller's free-form state), the checkpoint's files, NaN -> SRL_ENUMERIC with the previous
 * checkpoint untouched, options parsing, steps per epoch; and 4 steps against PyTorch doing
 * what safe-rlhf does (tests/ref/sft/train from scripts/make_sft_fixtures.py): prompt masks,
 * right padding, gradient accumulation, clipping, warm-up + cosine, AdamW with Safe RLHF's
 * no-decay groups. */
#include <stdint.h>
#include <unistd.h>
#include <sys/stat.h>

#include "dataset.h"
#include "fileio.h"
#include "safetensors.h"
#include "srl.h"
#include "test.h"
#include "trainer.h"

static char tmp[] = "/tmp/test_trainer.XXXXXX";

static struct srl_model *tiny_model(void)
{
    struct srl_config cfg;
    int err;
    if (srl_config_load("tests/data/sft_tiny_config.json", &cfg) < 0) return NULL;
    struct srl_model *m = srl_model_new(&cfg, srl_backend_cpu(), &err);
    if (m) srl_model_init_random(m, 7);
    return m;
}

static int load_demo(struct srl_sft_set *s)
{
    int err;
    struct srl_tokenizer *tok = srl_tokenizer_load("tests/data/sft_demo_tokenizer", &err);
    if (!tok) return -1;
    struct srl_sft_opts o = { tok, srl_template_find("saferlhf"), 128, false };
    int rc = srl_sft_read(s, "tests/data/sft_demo.jsonl", &o);
    srl_tokenizer_free(tok);
    return rc;
}

static void opts_for(struct srl_train_opts *o, const char *out)
{
    srl_train_opts_default(o);
    o->max_steps = 12;
    o->batch_size = 16;
    o->grad_accum = 2;
    o->lr = 2e-3;
    o->warmup_steps = 2;
    o->adam.weight_decay = 0.01f;
    o->output = out;
    o->quiet = true;
}

static char *path(const char *name)
{
    return srl_path_join(tmp, name);
}

static void test_resume_bitwise(void)
{
    struct srl_sft_set s = { 0 };
    REQUIRE(load_demo(&s) == 0 && s.n == 300);
    struct srl_lm_task task;
    REQUIRE(srl_lm_task_init(&task, &s, NULL, 0, 16) == 0);
    char *full = path("full"), *part = path("part");
    struct srl_train_opts o;
    struct srl_trainer t;

    /* uninterrupted: 12 steps (300 / 16 = 19 micro-batches, 10 steps per epoch) */
    struct srl_model *a = tiny_model();
    REQUIRE(a);
    opts_for(&o, full);
    REQUIRE(srl_trainer_init(&t, &o, a, "tests/data/sft_demo_tokenizer", NULL) == 0);
    EXPECT(srl_trainer_steps_per_epoch(&o, s.n) == 10);
    REQUIRE(srl_trainer_run(&t, &task.task) == 0);
    EXPECT(t.st.step == 12 && t.st.epoch == 1 && t.st.batch == 4, "epoch %lld batch %lld",
           (long long)t.st.epoch, (long long)t.st.batch);
    srl_trainer_free(&t);

    /* 5 steps, stopped, with caller state; then resumed to 12 */
    struct srl_model *b = tiny_model();
    opts_for(&o, part);
    o.stop_after = 5;
    REQUIRE(srl_trainer_init(&t, &o, b, "tests/data/sft_demo_tokenizer", NULL) == 0);
    REQUIRE(srl_json_object_set_number(t.st.user, "lambda", 0.625) == 0);
    srl_rng_u64(&t.st.rng); /* a caller that sampled */
    struct srl_rng rng_saved = t.st.rng;
    EXPECT(srl_trainer_run(&t, &task.task) == SRL_TRAIN_STOPPED);
    srl_trainer_free(&t);
    srl_model_free(b);
    char *ts = srl_path_join(part, "trainer_state.json");
    EXPECT(test_file_exists(ts));
    free(ts);
    REQUIRE(srl_model_load(part, srl_backend_cpu(), &b) == 0);
    opts_for(&o, part);
    REQUIRE(srl_trainer_init(&t, &o, b, part, part) == 0);
    EXPECT(t.st.step == 5 && t.optim->step == 5 && !t.st.complete);
    EXPECT(srl_json_number(srl_json_get(t.st.user, "lambda")) == 0.625, "user state restored");
    EXPECT(!memcmp(t.st.rng.s, rng_saved.s, sizeof rng_saved.s), "rng restored");
    REQUIRE(srl_trainer_run(&t, &task.task) == 0);
    EXPECT(t.st.complete && t.st.step == 12);
    struct srl_trainer t2;
    REQUIRE(srl_trainer_init(&t2, &o, b, part, part) == 0); /* the final state loads too */
    EXPECT(t2.st.complete && t2.st.step == 12);
    srl_trainer_free(&t2);
    EXPECT(!memcmp(a->params, b->params, a->n_params * sizeof(float)),
           "resumed weights bitwise equal to the uninterrupted run");
    srl_trainer_free(&t);
    /* the checkpoint loads as a model and its template/tokenizer files are there */
    char *tj = srl_path_join(full, "tokenizer.json"), *gc = srl_path_join(full,
                                                                         "generation_config.json");
    EXPECT(test_file_exists(tj) && test_file_exists(gc));
    free(tj);
    free(gc);

    /* divergence: SRL_ENUMERIC, the previous checkpoint (step 12) untouched */
    opts_for(&o, full);
    o.lr = 1e30;
    o.max_steps = 20;
    o.schedule = SRL_LR_CONSTANT;
    struct srl_model *c = NULL;
    REQUIRE(srl_model_load(full, srl_backend_cpu(), &c) == 0);
    REQUIRE(srl_trainer_init(&t, &o, c, full, full) == 0);
    EXPECT(srl_trainer_run(&t, &task.task) == SRL_ENUMERIC);
    srl_trainer_free(&t);
    struct srl_train_state st = { 0 };
    EXPECT(srl_train_state_load(&st, full) == 0 && st.step == 12 && st.complete);
    srl_json_decref(st.user);

    srl_model_free(a);
    srl_model_free(b);
    srl_model_free(c);
    srl_lm_task_free(&task);
    srl_sft_set_free(&s);
    free(full);
    free(part);
}

static void test_vs_pytorch(void)
{
    const char *dir = "tests/ref/sft/train";
    int err;
    struct srl_tokenizer *tok = srl_tokenizer_load("tests/data/sft_demo_tokenizer", &err);
    struct srl_sft_opts so = { tok, srl_template_find("saferlhf"), 0, false };
    struct srl_sft_set s = { 0 };
    struct srl_model *m = NULL;
    REQUIRE(tok && srl_sft_read(&s, "tests/ref/sft/train/train8.jsonl", &so) == 0 && s.n == 8);
    REQUIRE(srl_model_load("tests/ref/sft/train/model", srl_backend_cpu(), &m) == 0);
    char *text = NULL, *ref_path = srl_path_join(dir, "steps.json");
    size_t len;
    REQUIRE(srl_read_file(ref_path, &text, &len) == 0);
    struct srl_json *ref = srl_json_parse(text, len, ref_path, &err);
    REQUIRE(ref);

    struct srl_train_opts o;
    char *out = path("vs_pt"), *log = path("vs_pt.jsonl");
    srl_train_opts_default(&o);
    o.max_steps = 4;
    o.batch_size = 4;
    o.grad_accum = 2;
    o.lr = srl_json_number(srl_json_get(ref, "lr"));
    o.clip = srl_json_number(srl_json_get(ref, "clip"));
    o.warmup_steps = srl_json_integer(srl_json_get(ref, "warmup_steps"));
    o.adam.weight_decay = (float)srl_json_number(srl_json_get(ref, "weight_decay"));
    o.output = out;
    o.log_path = log;
    o.quiet = true;
    struct srl_lm_task task;
    struct srl_trainer t;
    REQUIRE(srl_lm_task_init(&task, &s, NULL, 0, 4) == 0);
    REQUIRE(srl_trainer_init(&t, &o, m, "tests/data/sft_demo_tokenizer", NULL) == 0);
    REQUIRE(srl_trainer_run(&t, &task.task) == 0);
    srl_trainer_free(&t);

    /* per-step loss, grad norm (before clipping) and lr */
    struct srl_jsonl *r = srl_jsonl_open(log, &err);
    struct srl_json *rec, *steps = srl_json_get(ref, "steps");
    float got[12], want[12];
    size_t k = 0;
    while (r && k < 12 && srl_jsonl_next(r, &rec) == 0) {
        struct srl_json *w = srl_json_array_at(steps, k / 3);
        got[k] = (float)srl_json_number(srl_json_get(rec, "loss"));
        want[k++] = (float)srl_json_number(srl_json_get(w, "loss"));
        got[k] = (float)srl_json_number(srl_json_get(rec, "grad_norm"));
        want[k++] = (float)srl_json_number(srl_json_get(w, "grad_norm"));
        got[k] = (float)srl_json_number(srl_json_get(rec, "lr"));
        want[k++] = (float)srl_json_number(srl_json_get(w, "lr"));
        srl_json_decref(rec);
    }
    srl_jsonl_close(r);
    EXPECT(k == 12, "%zu values", k);
    test_close("loss, grad_norm, lr per step", got, want, k, 1e-5f, 1e-4f);

    /* the weights after 4 steps */
    struct srl_st_file *f = srl_st_open("tests/ref/sft/train/final.safetensors", &err);
    REQUIRE(f);
    float *w = malloc(m->n_params * sizeof *w);
    size_t n_views = 0;
    for (size_t i = 0; w && i < m->n_views; i++) {
        const struct srl_st_tensor *st = srl_st_find(f, m->views[i].name);
        if (!st) continue;
        REQUIRE(st->numel == m->views[i].numel);
        srl_st_to_f32(st, w + m->views[i].offset);
        n_views++;
    }
    EXPECT(n_views == m->n_views, "%zu of %zu tensors", n_views, m->n_views);
    /* Adam moves a weight by about lr (1e-2) a step whatever its gradient's size, so where a
     * gradient is near zero the products' summation order (sgemm's, or the in-place path's
     * for a few rows) moves the weight by up to a few 1e-4 lr */
    test_close("weights after 4 steps", m->params, w, m->n_params, 5e-6f, 1e-4f);
    free(w);
    srl_st_close(f);
    srl_lm_task_free(&task);
    srl_sft_set_free(&s);
    srl_model_free(m);
    srl_tokenizer_free(tok);
    srl_json_decref(ref);
    free(text);
    free(ref_path);
    free(out);
    free(log);
}

static void test_options(void)
{
    struct srl_train_opts o; /* parsing: tests/cli/options.sh */
    srl_train_opts_default(&o);
    EXPECT(o.lr == 2e-5 && o.schedule == SRL_LR_COSINE && o.clip == 1.0 && o.adam.beta2 == 0.95f);
    o.batch_size = 4;
    o.grad_accum = 3;
    EXPECT(srl_trainer_steps_per_epoch(&o, 25) == 3, "7 micro-batches -> 3 steps");
}

/* trainer_state.json is checked on resume: a negative batch or an epoch past the steps taken
 * indexed the batch plan out of bounds. */
static void test_state_fields(void)
{
    char dir[sizeof tmp + 16], *path;
    snprintf(dir, sizeof dir, "%s/state", tmp);
    REQUIRE(mkdir(dir, 0755) == 0 && (path = srl_path_join(dir, "trainer_state.json")));
    static const char *fmt =
        "{\"format\": \"saferlhf-trainer-state\", \"version\": 1, \"complete\": false, "
        "\"step\": %s, \"epoch\": %s, \"batch\": %s, \"total_steps\": %s, \"examples\": 9, "
        "\"seed\": \"1\", \"tokens\": 10, \"rng\": {\"s\": [\"1\", \"2\", \"3\", \"4\"], "
        "\"spare\": 0, \"has_spare\": false}, \"user\": {}}";
    struct { const char *step, *epoch, *batch, *total; int rc; } cases[] = {
        { "6", "2", "1", "12", 0 },
        { "6", "2", "-5", "12", SRL_EFORMAT },
        { "6", "9223372036854775806", "0", "12", SRL_EFORMAT },
        { "6", "-1", "0", "12", SRL_EFORMAT },
        { "-6", "0", "0", "12", SRL_EFORMAT },
        { "6", "2", "1", "5", SRL_EFORMAT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char json[1024];
        snprintf(json, sizeof json, fmt, cases[i].step, cases[i].epoch, cases[i].batch,
                 cases[i].total);
        REQUIRE(srl_write_file_atomic(path, json, strlen(json)) == 0);
        struct srl_train_state st = { 0 };
        int rc = srl_train_state_load(&st, dir);
        EXPECT(rc == cases[i].rc, "step %s epoch %s batch %s total_steps %s: rc %d",
               cases[i].step, cases[i].epoch, cases[i].batch, cases[i].total, rc);
        srl_json_decref(st.user);
    }
    free(path);
}

int main(void)
{
    srl_log_set_level(SRL_LOG_OFF);
    if (!mkdtemp(tmp)) return 1;
    RUN(test_options);
    RUN(test_resume_bitwise);
    RUN(test_state_fields);
    RUN(test_vs_pytorch);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("could not remove %s\n", tmp);
    return test_summary();
}
