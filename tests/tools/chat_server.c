/* chat_server.c -- a tiny OpenAI-compatible chat-completions server for the judge tests.
 *
 * Usage: chat_server [--fail K] [--status CODE] [--retry-after S] [--malformed | --no-content]
 *                    [--huge MIB] [--delay-ms N] [--key KEY] [--stats FILE] [--oracle]
 *
 * Listens on 127.0.0.1 on an ephemeral port and prints the port on stdout.  One thread per
 * connection, HTTP/1.1 with "Connection: close".  Every POST is answered deterministically
 * from the last message's content, the way saferlhf's judge prompts lay it out: each answer
 * found between "[The Start of Assistant A's Answer]" (B, or the single-answer "Assistant's")
 * and the matching end marker is scored
 *     helpfulness   min(10, 1 + bytes / 8)
 *     harmlessness  2 when the answer contains "UNSAFE", 8 otherwise
 * (the system prompt says which), and the reply's content is "s1 s2\nExplanation..." (pairs)
 * or "s\nExplanation..." (one answer).
 *   --fail K        the first K requests get --status (429 by default) and no completion
 *   --retry-after S send "Retry-After: S" with those failures
 *   --malformed     answer 200 with a body that is not JSON
 *   --no-content    answer 200 with JSON lacking choices[0].message.content
 *   --huge MIB      answer 200 with a completion of MIB MiB, without Content-Length (the body
 *                   ends when the connection closes), until the client hangs up
 *   --delay-ms N    wait N ms before answering each request
 *   --key KEY       requests without "Authorization: Bearer KEY" get 401
 *   --stats FILE    after each request, FILE holds "requests N max_concurrent M auth_ok A"
 *   --oracle        score by lib/synth's rule-based oracle instead, with the question taken from
 *                   "[User Question]": helpfulness 1 + 4 x the oracle's level (1, 5, 9),
 *                   harmlessness 8 when the oracle calls the answer safe, else 2 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jsonl.h"
#include "synth.h"

static int fail_k, fail_status = 429, retry_after = -1, malformed, no_content, delay_ms, oracle;
static long huge_mib;
static const char *key, *stats_path;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int n_requests, in_flight, max_in_flight, n_auth_ok;

static void write_stats(void)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", stats_path);
    FILE *fp = fopen(tmp, "w");
    if (!fp) return;
    fprintf(fp, "requests %d max_concurrent %d auth_ok %d\n", n_requests, max_in_flight,
            n_auth_ok);
    fclose(fp);
    rename(tmp, stats_path);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* --huge: a 200 whose body streams huge_mib MiB of one completion's content. */
static void respond_huge(int fd)
{
    static const char head[] = "HTTP/1.1 200 X\r\nContent-Type: application/json\r\n"
                               "Connection: close\r\n\r\n{\"choices\": [{\"message\": {\"content\": \"";
    static char chunk[1 << 16];
    memset(chunk, 'x', sizeof chunk);
    if (send_all(fd, head, sizeof head - 1) < 0) return;
    for (long i = 0; i < huge_mib * 16; i++)
        if (send_all(fd, chunk, sizeof chunk) < 0) return; /* the client gave up */
    send_all(fd, "\"}}]}", 5);
}

static void respond(int fd, int status, const char *extra, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n", status, strlen(body), extra);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

/* Score of the answer between the markers of one assistant, or -1 when absent. */
static int score_answer(const char *text, const char *who, int safety)
{
    char start[128], end[128];
    snprintf(start, sizeof start, "[The Start of %s\xe2\x80\x99s Answer]\n", who);
    snprintf(end, sizeof end, "\n[The End of %s\xe2\x80\x99s Answer]", who);
    const char *a = strstr(text, start);
    if (!a) return -1;
    a += strlen(start);
    const char *b = strstr(a, end);
    if (!b) return -1;
    size_t len = (size_t)(b - a);
    if (oracle) {
        const char *q = strstr(text, "[User Question]\n"), *qe;
        if (!q || !(qe = strstr(q, "\n[The Start of"))) return -1;
        q += strlen("[User Question]\n");
        char *question = strndup(q, (size_t)(qe - q)), *answer = strndup(a, len);
        struct srl_synth_label l;
        srl_synth_label(question, answer, &l);
        free(question);
        free(answer);
        return safety ? (l.safe ? 8 : 2) : 1 + 4 * l.helpfulness;
    }
    if (safety) return memmem(a, len, "UNSAFE", 6) ? 2 : 8;
    return len / 8 + 1 > 10 ? 10 : (int)(len / 8 + 1);
}

static char *completion(const char *body, size_t len)
{
    int err;
    struct srl_json *req = srl_json_parse(body, len, "request", &err);
    struct srl_json *msgs = srl_json_get(req, "messages");
    size_t n = srl_json_array_size(msgs);
    const char *sys = n ? srl_json_string(srl_json_get(srl_json_array_at(msgs, 0), "content"))
                        : NULL;
    const char *user = n ? srl_json_string(srl_json_get(srl_json_array_at(msgs, n - 1),
                                                        "content")) : NULL;
    char content[256];
    if (!user) {
        srl_json_decref(req);
        return NULL;
    }
    int safety = sys && strstr(sys, "safety");
    int s1 = score_answer(user, "Assistant A", safety);
    int s2 = score_answer(user, "Assistant B", safety);
    if (s1 >= 0 && s2 >= 0)
        snprintf(content, sizeof content, "%d %d\nExplanation: scored by the test server.", s1, s2);
    else if ((s1 = score_answer(user, "the Assistant", safety)) >= 0)
        snprintf(content, sizeof content, "%d\nExplanation: scored by the test server.", s1);
    else
        snprintf(content, sizeof content, "I cannot tell.");
    struct srl_json *out = srl_json_new_object();
    struct srl_json *choices = srl_json_new_array(), *choice = srl_json_new_object();
    struct srl_json *msg = srl_json_new_object();
    srl_json_object_set_string(msg, "role", "assistant");
    srl_json_object_set_string(msg, "content", content);
    srl_json_object_set_integer(choice, "index", 0);
    srl_json_object_set(choice, "message", msg);
    srl_json_object_set_string(choice, "finish_reason", "stop");
    srl_json_array_append(choices, choice);
    srl_json_object_set_string(out, "id", "chatcmpl-test");
    srl_json_object_set_string(out, "object", "chat.completion");
    struct srl_json *model = srl_json_get(req, "model");
    srl_json_object_set_string(out, "model", srl_json_string(model) ? srl_json_string(model) : "");
    srl_json_object_set(out, "choices", choices);
    char *text = srl_json_dumps(out);
    srl_json_decref(out);
    srl_json_decref(req);
    return text;
}

static void *serve(void *arg)
{
    int fd = (int)(long)arg;

    size_t cap = 1 << 16, len = 0, need = 0, hdr_end = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (len == cap) {
            char *p = realloc(buf, 2 * cap + 1);
            if (!p) break;
            buf = p;
            cap *= 2;
        }
        ssize_t k = recv(fd, buf + len, cap - len, 0);
        if (k <= 0) break;
        len += (size_t)k;
        buf[len] = '\0';
        if (!hdr_end) {
            char *e = strstr(buf, "\r\n\r\n");
            if (!e) continue;
            hdr_end = (size_t)(e - buf) + 4;
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            need = hdr_end + (cl && cl < e ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (len >= need) break;
    }
    if (buf && hdr_end && len >= need) {
        int auth_ok = 0;
        if (key) {
            char want[512];
            snprintf(want, sizeof want, "\r\nAuthorization: Bearer %s\r\n", key);
            char save = buf[hdr_end];
            buf[hdr_end] = '\0';
            auth_ok = strcasestr(buf, want) != NULL;
            buf[hdr_end] = save;
        }
        /* in flight from a complete request until just before the answer goes out, so a
         * client that starts its next request on receiving an answer never overlaps */
        pthread_mutex_lock(&mu);
        int nth = n_requests++;
        n_auth_ok += auth_ok;
        if (++in_flight > max_in_flight) max_in_flight = in_flight;
        pthread_mutex_unlock(&mu);
        if (delay_ms > 0) {
            struct timespec ts = { delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&mu);
        in_flight--;
        if (stats_path) write_stats();
        pthread_mutex_unlock(&mu);
        char extra[64] = "";
        if (key && !auth_ok) {
            respond(fd, 401, "", "{\"error\":{\"message\":\"bad key\"}}");
        } else if (nth < fail_k) {
            if (retry_after >= 0) snprintf(extra, sizeof extra, "Retry-After: %d\r\n", retry_after);
            respond(fd, fail_status, extra, "{\"error\":{\"message\":\"try later\"}}");
        } else if (malformed) {
            respond(fd, 200, "", "{\"choices\": [ this is not json");
        } else if (no_content) {
            respond(fd, 200, "", "{\"choices\": []}");
        } else if (huge_mib > 0) {
            respond_huge(fd);
        } else {
            char *body = completion(buf + hdr_end, need - hdr_end);
            if (body) respond(fd, 200, "", body);
            else respond(fd, 400, "", "{\"error\":{\"message\":\"bad request\"}}");
            free(body);
        }
    }
    free(buf);
    shutdown(fd, SHUT_WR);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--malformed")) malformed = 1;
        else if (!strcmp(a, "--no-content")) no_content = 1;
        else if (!strcmp(a, "--oracle")) oracle = 1;
        else if (v && !strcmp(a, "--fail")) fail_k = atoi(argv[++i]);
        else if (v && !strcmp(a, "--huge")) huge_mib = atol(argv[++i]);
        else if (v && !strcmp(a, "--status")) fail_status = atoi(argv[++i]);
        else if (v && !strcmp(a, "--retry-after")) retry_after = atoi(argv[++i]);
        else if (v && !strcmp(a, "--delay-ms")) delay_ms = atoi(argv[++i]);
        else if (v && !strcmp(a, "--key")) key = argv[++i];
        else if (v && !strcmp(a, "--stats")) stats_path = argv[++i];
        else {
            fprintf(stderr, "chat_server: bad argument '%s'\n", a);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 64) < 0
        || getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
        fprintf(stderr, "chat_server: cannot listen: %s\n", strerror(errno));
        return 1;
    }
    if (stats_path) write_stats();
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(long)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
