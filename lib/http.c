/* http.c -- batched JSON POSTs through a curl multi handle: concurrency limit, per-attempt
 * timeouts, retries with jittered exponential backoff, Retry-After. */
#include "http.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "srl.h"

enum req_state { REQ_WAITING, REQ_RUNNING, REQ_DONE };

/* Book-keeping of one request of the batch. */
struct slot {
    enum req_state state;
    double not_before; /* monotonic seconds: earliest start of the next attempt */
    CURL *easy;
    char *buf;
    size_t len, cap;
    size_t max;     /* reply bytes allowed */
    bool too_large; /* the reply went past max */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

void srl_http_req_clear(struct srl_http_req *r)
{
    if (!r) return;
    free(r->reply);
    r->reply = NULL;
    r->reply_len = 0;
}

double srl_http_backoff(int attempt, double base_s, double max_s, double retry_after, double u)
{
    if (retry_after >= 0) return retry_after < max_s ? retry_after : max_s;
    double d = base_s * ldexp(1.0, attempt > 1 ? (attempt - 1 < 30 ? attempt - 1 : 30) : 0);
    if (d > max_s) d = max_s;
    return d * (0.5 + u / 2);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct slot *s = user;
    size_t n = size * nmemb;
    if (n > s->max - s->len) {
        s->too_large = true;
        return 0; /* fails the transfer (CURLE_WRITE_ERROR) */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1) cap *= 2;
        char *p = realloc(s->buf, cap);
        if (!p) return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static int start_attempt(CURLM *multi, struct slot *s, struct srl_http_req *r,
                         const struct srl_http_opts *o, struct curl_slist *headers)
{
    CURL *h = curl_easy_init();
    if (!h) return SRL_ENOMEM;
    s->len = 0;
    s->max = o->max_reply ? o->max_reply : SRL_HTTP_MAX_REPLY;
    s->too_large = false;
    if (s->buf) s->buf[0] = '\0';
    long timeout_ms = (long)(o->timeout_s * 1000.0);
    curl_easy_setopt(h, CURLOPT_URL, o->url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max); /* by Content-Length */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "saferlhf/" SRL_VERSION);
    if (curl_multi_add_handle(multi, h) != CURLM_OK) {
        curl_easy_cleanup(h);
        return SRL_EIO;
    }
    s->easy = h;
    s->state = REQ_RUNNING;
    r->attempts++;
    return 0;
}

/* A transfer ended: record the outcome, or schedule another attempt. */
static void finish_attempt(struct slot *s, struct srl_http_req *r, CURLcode cc,
                           const struct srl_http_opts *o, struct srl_rng *rng, size_t idx)
{
    long status = 0;
    curl_off_t retry_after = -1;
    double total = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &retry_after); /* 0: none (or 0) */
    curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME, &total);
    int retryable;
    const char *error = "";
    if (cc != CURLE_OK) {
        status = 0;
        error = cc == CURLE_OPERATION_TIMEDOUT ? "timed out"
              : s->too_large || cc == CURLE_FILESIZE_EXCEEDED ? SRL_HTTP_TOO_LARGE
              : curl_easy_strerror(cc);
        retryable = cc != CURLE_WRITE_ERROR && cc != CURLE_URL_MALFORMAT
                    && cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_FILESIZE_EXCEEDED;
    } else if (status == 429) {
        error = "rate limited";
        retryable = 1;
    } else if (status >= 500) {
        error = "server error";
        retryable = 1;
    } else if (status < 200 || status >= 300) {
        error = "rejected";
        retryable = 0;
    } else {
        retryable = 0;
    }
    srl_log_debug("request %zu attempt %d: %s -> %ld%s%s (%.3f s)", idx, r->attempts, o->url,
                  status, *error ? ", " : "", error, total);
    if (*error && retryable && r->attempts <= o->retries) {
        double wait = srl_http_backoff(r->attempts, o->backoff_base_s, o->backoff_max_s,
                                       retry_after > 0 ? (double)retry_after : -1,
                                       srl_rng_uniform(rng));
        srl_log_info("request %zu: %s; retrying in %.2f s", idx, error, wait);
        s->not_before = srl_seconds() + wait;
        s->state = REQ_WAITING;
        return;
    }
    r->status = status;
    r->error = error;
    free(r->reply);
    r->reply = s->buf ? s->buf : strdup("");
    r->reply_len = s->len;
    s->buf = NULL;
    s->len = s->cap = 0;
    s->state = REQ_DONE;
}

/* Headers for the batch.  The bearer token is copied into the list only; the copies are wiped
 * before the list is freed. */
static struct curl_slist *make_headers(const char *bearer)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (!h) return NULL;
    struct curl_slist *t = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (!t) goto fail;
    h = t;
    if (bearer && *bearer) {
        size_t n = strlen(bearer) + 32;
        char *line = malloc(n);
        if (!line) goto fail;
        snprintf(line, n, "Authorization: Bearer %s", bearer);
        t = curl_slist_append(h, line);
        memset(line, 0, n);
        free(line);
        if (!t) goto fail;
        h = t;
    }
    return h;
fail:
    curl_slist_free_all(h);
    return NULL;
}

static void free_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (p->data) memset(p->data, 0, strlen(p->data));
    curl_slist_free_all(h);
}

int srl_http_post_batch(struct srl_http_req *reqs, size_t n, const struct srl_http_opts *o)
{
    if (!o || !o->url || o->concurrency < 1 || o->retries < 0 || !(o->timeout_s > 0)) {
        srl_log_error("http: invalid options (url, concurrency >= 1, timeout > 0 needed)");
        return SRL_EINVAL;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        srl_log_error("http: cannot initialise libcurl: %s", curl_easy_strerror(curl_init_rc));
        return SRL_EIO;
    }
    if (n == 0) return 0;
    int rc = 0;
    struct slot *slots = calloc(n, sizeof *slots);
    struct curl_slist *headers = make_headers(o->bearer);
    CURLM *multi = curl_multi_init();
    struct srl_rng rng;
    srl_rng_seed(&rng, o->seed);
    if (!slots || !headers || !multi) {
        srl_log_error("http: out of memory");
        rc = SRL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        reqs[i].status = 0;
        reqs[i].attempts = 0;
        reqs[i].error = "";
    }
    size_t done = 0, next = 0; /* next: lowest index that may still be waiting */
    int running = 0, failed = 0;
    while (done < n) {
        double t = srl_seconds(), wake = INFINITY;
        for (size_t i = next; i < n && running < o->concurrency; i++) {
            if (slots[i].state != REQ_WAITING) continue;
            if (slots[i].not_before > t) {
                if (slots[i].not_before < wake) wake = slots[i].not_before;
                continue;
            }
            if ((rc = start_attempt(multi, &slots[i], &reqs[i], o, headers)) < 0) {
                srl_log_error("http: cannot start a transfer");
                goto out;
            }
            running++;
        }
        /* waiting requests past the limit also bound the sleep */
        for (size_t i = next; i < n && isinf(wake); i++)
            if (slots[i].state == REQ_WAITING && slots[i].not_before > t)
                wake = slots[i].not_before;
        int still = 0;
        curl_multi_perform(multi, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            size_t idx = (size_t)(s - slots);
            finish_attempt(s, &reqs[idx], msg->data.result, o, &rng, idx);
            curl_multi_remove_handle(multi, s->easy);
            curl_easy_cleanup(s->easy);
            s->easy = NULL;
            running--;
            if (s->state == REQ_DONE) {
                done++;
                if (o->fail_fast && *reqs[idx].error) failed = 1;
            }
        }
        if (failed) {
            for (size_t i = 0; i < n; i++) {
                if (slots[i].state == REQ_DONE) continue;
                if (slots[i].easy) {
                    curl_multi_remove_handle(multi, slots[i].easy);
                    curl_easy_cleanup(slots[i].easy);
                    slots[i].easy = NULL;
                }
                slots[i].state = REQ_DONE;
                reqs[i].error = "cancelled";
            }
            break;
        }
        while (next < n && slots[next].state == REQ_DONE) next++;
        if (done == n) break;
        int wait_ms = 100;
        if (!isinf(wake)) {
            double d = (wake - srl_seconds()) * 1000.0;
            wait_ms = d < 0 ? 0 : d > 1000 ? 1000 : (int)d + 1;
        }
        if (running > 0) curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
        else if (wait_ms > 0) {
            struct timespec ts = { wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
out:
    if (slots) {
        for (size_t i = 0; i < n; i++) {
            if (slots[i].easy) {
                curl_multi_remove_handle(multi, slots[i].easy);
                curl_easy_cleanup(slots[i].easy);
            }
            free(slots[i].buf);
        }
    }
    if (multi) curl_multi_cleanup(multi);
    if (headers) free_headers(headers);
    free(slots);
    return rc;
}
