/* tokenizer_train.c -- byte-level BPE training (placeholder until the trainer lands). */
#include "srl.h"
#include "tokenizer.h"

int srl_tokenizer_train_bpe(const char *const *texts, size_t n_texts, int vocab_size,
                            const char *const *specials, size_t n_specials, const char *out_dir)
{
    (void)texts; (void)n_texts; (void)vocab_size; (void)specials; (void)n_specials; (void)out_dir;
    srl_log_error("tokenizer_train.c: BPE training is not implemented yet");
    return SRL_EUNSUPPORTED;
}
