/* trainer_ckpt.c -- checkpoint directories of the trainers and trainer_state.json. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist.h"
#include "fileio.h"
#include "srl.h"
#include "trainer.h"

static int copy_file(const char *src_dir, const char *dst_dir, const char *name, bool required)
{
    char *src = srl_path_join(src_dir, name), *dst = srl_path_join(dst_dir, name), *data = NULL;
    size_t len;
    int rc = SRL_ENOMEM;
    if (!src || !dst) goto out;
    if (access(src, F_OK) != 0 && !required) {
        rc = 0;
        goto out;
    }
    if ((rc = srl_read_file(src, &data, &len)) < 0) goto out;
    rc = srl_write_file_atomic(dst, data, len);
out:
    free(src);
    free(dst);
    free(data);
    return rc;
}

static int write_json(const char *dir, const char *name, const struct srl_json *v)
{
    char *path = srl_path_join(dir, name);
    struct srl_atomic_file af;
    int rc = path ? srl_atomic_open(&af, path) : SRL_ENOMEM;
    if (rc == 0) {
        if ((rc = srl_json_dump(v, af.fp)) == 0) rc = srl_atomic_commit(&af);
        else srl_atomic_abort(&af);
    }
    free(path);
    return rc;
}

static int write_generation_config(const char *dir, const struct srl_config *c)
{
    struct srl_json *g = srl_json_new_object();
    int rc = g ? 0 : SRL_ENOMEM;
    if (rc == 0 && c->bos_token_id >= 0)
        rc = srl_json_object_set_integer(g, "bos_token_id", c->bos_token_id);
    if (rc == 0) rc = srl_json_object_set_bool(g, "do_sample", false);
    if (rc == 0 && c->eos_token_id >= 0)
        rc = srl_json_object_set_integer(g, "eos_token_id", c->eos_token_id);
    if (rc == 0 && c->pad_token_id >= 0)
        rc = srl_json_object_set_integer(g, "pad_token_id", c->pad_token_id);
    if (rc == 0) rc = write_json(dir, "generation_config.json", g);
    srl_json_decref(g);
    return rc;
}

static struct srl_json *state_json(const struct srl_train_state *st)
{
    struct srl_json *o = srl_json_new_object(), *rng = srl_json_new_object();
    struct srl_json *s = srl_json_new_array();
    char buf[32];
    int rc = o && rng && s ? 0 : SRL_ENOMEM;
    for (int i = 0; rc == 0 && i < 4; i++) {
        snprintf(buf, sizeof buf, "%016" PRIx64, st->rng.s[i]);
        rc = srl_json_array_append(s, srl_json_new_string(buf));
    }
    if (rc == 0) {
        rc = srl_json_object_set(rng, "s", s);
        s = NULL;
    }
    snprintf(buf, sizeof buf, "%" PRIu64, st->seed);
    if (rc == 0) rc = srl_json_object_set_number(rng, "spare", st->rng.spare);
    if (rc == 0) rc = srl_json_object_set_bool(rng, "has_spare", st->rng.has_spare != 0);
    if (rc == 0) rc = srl_json_object_set_string(o, "format", "saferlhf-trainer-state");
    if (rc == 0) rc = srl_json_object_set_integer(o, "version", 1);
    if (rc == 0) rc = srl_json_object_set_bool(o, "complete", st->complete);
    if (rc == 0) rc = srl_json_object_set_integer(o, "step", st->step);
    if (rc == 0) rc = srl_json_object_set_integer(o, "epoch", st->epoch);
    if (rc == 0) rc = srl_json_object_set_integer(o, "batch", st->batch);
    if (rc == 0) rc = srl_json_object_set_integer(o, "total_steps", st->total_steps);
    if (rc == 0) rc = srl_json_object_set_integer(o, "examples", st->examples);
    if (rc == 0) rc = srl_json_object_set_string(o, "seed", buf);
    if (rc == 0) rc = srl_json_object_set_number(o, "tokens", st->tokens);
    if (rc == 0) {
        rc = srl_json_object_set(o, "rng", rng);
        rng = NULL;
    }
    if (rc == 0)
        rc = srl_json_object_set(o, "user", st->user ? srl_json_incref(st->user)
                                                      : srl_json_new_object());
    srl_json_decref(s);
    srl_json_decref(rng);
    if (rc < 0) {
        srl_json_decref(o);
        return NULL;
    }
    return o;
}

/* Rank 0's files of the checkpoint before the optimiser state. */
static int save_model_files(struct srl_trainer *t, const char *tmp)
{
    int rc;
    if ((rc = srl_model_save(t->model, tmp, t->opts.save_dtype)) < 0) return rc;
    if (t->tokenizer_dir) {
        if ((rc = copy_file(t->tokenizer_dir, tmp, "tokenizer.json", true)) < 0 ||
            (rc = copy_file(t->tokenizer_dir, tmp, "tokenizer_config.json", false)) < 0 ||
            (rc = copy_file(t->tokenizer_dir, tmp, "special_tokens_map.json", false)) < 0)
            return rc;
    }
    return write_generation_config(tmp, &t->model->cfg);
}

int srl_trainer_save(struct srl_trainer *t, const char *dir, bool complete)
{
    struct srl_dir_txn txn;
    struct srl_json *state = NULL;
    bool root = srl_dist_is_root(), begun = false;
    char *opt_path = NULL;
    int rc = 0;
    t->st.complete = complete;
    /* rank 0 writes (srl_dir_begin refuses a directory that is not a checkpoint); every rank
     * takes part in gathering sharded moments, then agrees */
    if (root && (rc = srl_dir_begin(&txn, dir)) == 0) {
        begun = true;
        opt_path = srl_path_join(txn.tmp_dir, "optimizer.safetensors");
        if (!opt_path || !(state = state_json(&t->st))) rc = SRL_ENOMEM;
        if (rc == 0) rc = save_model_files(t, txn.tmp_dir);
    }
    if ((rc = srl_dist_agree(rc)) < 0) goto fail;
    rc = srl_optim_save(t->optim, root ? opt_path : NULL);
    if ((rc = srl_dist_agree(rc)) < 0) goto fail;
    if (t->save_extra) rc = t->save_extra(t->save_extra_ctx, root ? txn.tmp_dir : NULL, complete);
    if ((rc = srl_dist_agree(rc)) < 0) goto fail;
    if (root && (rc = write_json(txn.tmp_dir, "trainer_state.json", state)) == 0) {
        begun = false;
        rc = srl_dir_commit(&txn);
    }
    if ((rc = srl_dist_agree(rc)) < 0) goto fail;
    free(opt_path);
    srl_json_decref(state);
    return 0;
fail:
    if (root) srl_log_error("%s: cannot write the checkpoint", dir);
    free(opt_path);
    srl_json_decref(state);
    if (begun) srl_dir_abort(&txn);
    return rc;
}

static int get_int(const struct srl_json *o, const char *key, const char *path, int64_t *out)
{
    struct srl_json *v = srl_json_get(o, key);
    if (!srl_json_is_integer(v)) {
        srl_log_error("%s: \"%s\" is missing or not an integer", path, key);
        return SRL_EFORMAT;
    }
    *out = srl_json_integer(v);
    return 0;
}

int srl_train_state_load(struct srl_train_state *st, const char *dir)
{
    char *path = srl_path_join(dir, "trainer_state.json"), *text = NULL;
    size_t len;
    int rc = path ? srl_read_file(path, &text, &len) : SRL_ENOMEM;
    struct srl_json *o = NULL;
    if (rc < 0) {
        if (path) srl_log_error("%s: cannot read the trainer state (not a resumable "
                                "checkpoint?)", path);
        goto out;
    }
    if (!(o = srl_json_parse(text, len, path, &rc))) goto out;
    struct srl_train_state s = *st;
    struct srl_json *rng = srl_json_get(o, "rng"), *sv = srl_json_get(rng, "s");
    const char *seed = srl_json_string(srl_json_get(o, "seed"));
    rc = SRL_EFORMAT;
    if (strcmp(srl_json_string(srl_json_get(o, "format")) ? srl_json_string(srl_json_get(
                   o, "format")) : "", "saferlhf-trainer-state") != 0) {
        srl_log_error("%s: not a saferlhf trainer state", path);
        goto out;
    }
    if (get_int(o, "step", path, &s.step) < 0 || get_int(o, "epoch", path, &s.epoch) < 0 ||
        get_int(o, "batch", path, &s.batch) < 0 ||
        get_int(o, "total_steps", path, &s.total_steps) < 0)
        goto out;
    /* every epoch and every batch took at least one step, and no run goes past its plan */
    const char *bad = s.step < 0 ? "step" : s.total_steps < s.step ? "total_steps"
                    : s.epoch < 0 || s.epoch > s.step ? "epoch" : s.batch < 0 ? "batch" : NULL;
    if (bad) {
        srl_log_error("%s: \"%s\" is out of range (step %" PRId64 ", epoch %" PRId64 ", batch %"
                      PRId64 ", total_steps %" PRId64 ")", path, bad, s.step, s.epoch, s.batch,
                      s.total_steps);
        goto out;
    }
    if (!seed || sscanf(seed, "%" SCNu64, &s.seed) != 1 || srl_json_array_size(sv) != 4) {
        srl_log_error("%s: bad \"seed\" or \"rng\"", path);
        goto out;
    }
    for (int i = 0; i < 4; i++) {
        const char *h = srl_json_string(srl_json_array_at(sv, (size_t)i));
        if (!h || sscanf(h, "%" SCNx64, &s.rng.s[i]) != 1) {
            srl_log_error("%s: bad \"rng\"", path);
            goto out;
        }
    }
    s.rng.spare = srl_json_number(srl_json_get(rng, "spare"));
    s.rng.has_spare = srl_json_boolean(srl_json_get(rng, "has_spare"));
    s.tokens = srl_json_number(srl_json_get(o, "tokens"));
    s.examples = srl_json_integer(srl_json_get(o, "examples"));
    if (s.examples < 0 || !(s.tokens >= 0)) {
        srl_log_error("%s: \"%s\" is out of range", path, s.examples < 0 ? "examples" : "tokens");
        goto out;
    }
    s.complete = srl_json_boolean(srl_json_get(o, "complete"));
    struct srl_json *user = srl_json_get(o, "user");
    s.user = srl_json_is_object(user) ? srl_json_incref(user) : srl_json_new_object();
    if (!s.user) {
        rc = SRL_ENOMEM;
        goto out;
    }
    srl_json_decref(st->user);
    *st = s;
    rc = 0;
out:
    srl_json_decref(o);
    free(text);
    free(path);
    return rc;
}
