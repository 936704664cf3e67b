/* http.h -- JSON POST requests over HTTP(S) with a concurrency limit, timeouts and retries.
 *
 * The one place libcurl is used (its types never leave lib/http.c).  A batch of requests runs
 * through one curl multi handle with at most `concurrency` transfers in flight; each transfer
 * has a whole-request timeout.  A request that fails with a connection error, a timeout, HTTP
 * 429 or HTTP 5xx is tried again, up to `retries` more times, after an exponential backoff with
 * jitter (base * 2^(attempt-1) seconds, capped, times a uniform draw from [0.5, 1)) or, when the
 * server sent Retry-After (a positive number of seconds or an HTTP date), after that long
 * (capped at backoff_max_s).  Other HTTP statuses (4xx) are final.
 *
 *     struct srl_http_req r[2] = { { .body = a }, { .body = b } };
 *     struct srl_http_opts o = SRL_HTTP_OPTS_INIT;
 *     o.url = "http://127.0.0.1:8000/v1/chat/completions";
 *     o.bearer = getenv("OPENAI_API_KEY");
 *     srl_http_post_batch(r, 2, &o);      // then r[i].status, r[i].reply, r[i].error
 *     srl_http_req_clear(&r[0]); ...
 *
 * The bearer token goes only into the Authorization header.  Nothing in this module logs
 * headers or request bodies, at any level: -vv shows URL, attempt, status and timing only. */
#ifndef SRL_HTTP_H
#define SRL_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct srl_http_opts {
    const char *url;       /* where every request of the batch is POSTed */
    const char *bearer;    /* "Authorization: Bearer ..." when not NULL or empty */
    int concurrency;       /* transfers in flight at most (>= 1) */
    double timeout_s;      /* per attempt, connection to last byte */
    int retries;           /* extra attempts after a retryable failure */
    double backoff_base_s; /* first backoff (before jitter) */
    double backoff_max_s;  /* cap of the backoff (and of an honoured Retry-After) */
    uint64_t seed;         /* jitter */
    int fail_fast;         /* stop at the first request that finally fails: transfers in
                            * flight are abandoned, the rest never start (error "cancelled") */
    size_t max_reply;      /* bytes of a reply body at most; a larger one fails its request
                            * (error SRL_HTTP_TOO_LARGE, not retried) [8 MiB; 0: the default] */
};
#define SRL_HTTP_OPTS_INIT { NULL, NULL, 4, 60.0, 5, 1.0, 60.0, 1, 0, SRL_HTTP_MAX_REPLY }
#define SRL_HTTP_MAX_REPLY ((size_t)8 << 20)
#define SRL_HTTP_TOO_LARGE "reply larger than the size limit (--max-reply-size)"

/* One request.  The caller sets body (JSON text, NUL-terminated); the batch fills the rest.
 * status is the final HTTP status (0 when no response came); reply the response body (new
 * NUL-terminated string, free with srl_http_req_clear()) whatever the status; attempts how
 * many tries were made; error a short static description of the final failure ("" when the
 * status is 2xx). */
struct srl_http_req {
    const char *body;
    long status;
    char *reply;
    size_t reply_len;
    int attempts;
    const char *error;
};
void srl_http_req_clear(struct srl_http_req *r); /* frees reply; NULL-safe */

/* Run n requests.  Returns 0 when every request ended (successfully or not: check status and
 * error of each), SRL_EINVAL for bad options, SRL_ENOMEM or SRL_EIO when libcurl cannot be
 * set up.  Thread-compatible: one batch at a time per thread. */
int srl_http_post_batch(struct srl_http_req *reqs, size_t n, const struct srl_http_opts *o);

/* The backoff before retry number `attempt` (1 for the first retry) in seconds, for the given
 * uniform draw u in [0, 1): min(max_s, base_s * 2^(attempt-1)) * (0.5 + u / 2), or retry_after
 * (capped at max_s) when retry_after >= 0.  Exposed for tests. */
double srl_http_backoff(int attempt, double base_s, double max_s, double retry_after, double u);

#endif
