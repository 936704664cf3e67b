/* safetensors.h -- read (mmap, bounds-checked) and write HF safetensors files.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32"|"BF16"|"F16"|..., "shape": [...], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {...}}, then the data; offsets are relative to the end of the header. */
#ifndef SRL_SAFETENSORS_H
#define SRL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

#define SRL_ST_MAX_DIMS 8

struct srl_st_tensor {
    const char *name;          /* borrowed from the file object */
    enum srl_dtype dtype;      /* F32, BF16, F16 convert to fp32; F64, I32, I64, U8, BOOL are
                                * read as raw data (srl_st_to_f32 converts them too) */
    int ndim;
    int64_t shape[SRL_ST_MAX_DIMS];
    size_t numel;
    const void *data;          /* points into the mapping: valid until srl_st_close(); aligned
                                * to the element size only when the writer padded the header
                                * (HF and we do) -- use memcpy or srl_st_to_f32 otherwise */
    size_t nbytes;
};

struct srl_st_file; /* opaque */

/* Map PATH and parse its header.  Every tensor's offsets, size (numel * dtype size) and
 * ordering are checked against the file; a problem logs "PATH: tensor NAME: what is wrong" and
 * returns NULL with *err set (SRL_EIO, SRL_EFORMAT, SRL_EUNSUPPORTED for a dtype we cannot
 * convert).  Returns a new object; free with srl_st_close(). */
struct srl_st_file *srl_st_open(const char *path, int *err);
void srl_st_close(struct srl_st_file *f);

size_t srl_st_count(const struct srl_st_file *f);
const struct srl_st_tensor *srl_st_get(const struct srl_st_file *f, size_t i);
/* NULL when absent. */
const struct srl_st_tensor *srl_st_find(const struct srl_st_file *f, const char *name);
const char *srl_st_path(const struct srl_st_file *f);

/* Convert a tensor's data to fp32 into dst (numel floats).  Returns 0, or SRL_EUNSUPPORTED
 * for a dtype without a conversion. */
int srl_st_to_f32(const struct srl_st_tensor *t, float *dst);

/* Scalar conversions (round to nearest even; NaN stays NaN, overflow becomes infinity). */
uint16_t srl_f32_to_bf16(float x);
float srl_bf16_to_f32(uint16_t h);
uint16_t srl_f32_to_f16(float x);
float srl_f16_to_f32(uint16_t h);

/* A tensor to write: fp32 data in memory, written as dtype (rounded to nearest even for bf16). */
struct srl_st_entry {
    const char *name;
    int ndim;
    int64_t shape[SRL_ST_MAX_DIMS];
    const float *data;
};

/* Write the entries to PATH as DTYPE (F32, BF16 or F16), atomically: a temporary sibling is written, fsync'd and
 * renamed over PATH, so PATH is either the old file or the complete new one.  metadata_json
 * may be NULL or a JSON object of string values for "__metadata__" (HF writes {"format":"pt"}).
 * Returns 0 or SRL_E*. */
int srl_st_write(const char *path, const struct srl_st_entry *entries, size_t n,
                 enum srl_dtype dtype, const char *metadata_json);

/* A checkpoint's weights may be one model.safetensors or shards listed by
 * model.safetensors.index.json.  This opens whichever DIR holds and finds tensors across
 * shards.  Returns a new object; free with srl_st_set_close(). */
struct srl_st_set;
struct srl_st_set *srl_st_set_open(const char *dir, int *err);
void srl_st_set_close(struct srl_st_set *s);
const struct srl_st_tensor *srl_st_set_find(const struct srl_st_set *s, const char *name);
size_t srl_st_set_count(const struct srl_st_set *s);
const struct srl_st_tensor *srl_st_set_get(const struct srl_st_set *s, size_t i);
/* Also accepted by srl_st_set_open(): DIR may be a .safetensors file itself. */

#endif
