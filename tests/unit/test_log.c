/* test_log.c -- error strings, exit statuses, one-line messages and device resolution. */
#include <unistd.h>

#include "test.h"

#include "device.h"
#include "srl.h"

static void test_strerror_and_exit_status(void)
{
    EXPECT(strcmp(srl_strerror(SRL_EIO), "input/output error") == 0);
    EXPECT(srl_exit_status(0) == SRL_EXIT_OK);
    EXPECT(srl_exit_status(SRL_EFORMAT) == SRL_EXIT_FAILURE);
    EXPECT(srl_exit_status(SRL_ENUMERIC) == SRL_EXIT_NUMERIC);
}

/* A message quoting input with control characters (a JSON key holding a newline: fuzz case
 * 777 of seed 11) is still one line on stderr. */
static void test_message_one_line(void)
{
    FILE *tmp = tmpfile();
    REQUIRE(tmp, "tmpfile");
    fflush(stderr);
    int saved = dup(2);
    REQUIRE(saved >= 0 && dup2(fileno(tmp), 2) >= 0, "redirect stderr");
    srl_log_warning("ignoring unknown key \"%s\"", "\num_key\r\tx");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char line[256] = "";
    rewind(tmp);
    size_t n = fread(line, 1, sizeof line - 1, tmp);
    fclose(tmp);
    line[n] = 0;
    EXPECT(strstr(line, "ignoring unknown key \"?um_key??x\"\n") != NULL, "%s", line);
    EXPECT(strchr(line, '\n') == line + n - 1, "one line: %s", line);
}

static void test_device_resolve(void)
{
    struct srl_device d;
    char why[128] = "";
    EXPECT(srl_device_resolve("cpu", &d, NULL, 0) == 0 && d.kind == SRL_DEVICE_CPU);
    EXPECT(srl_device_resolve("auto", &d, NULL, 0) == 0);
    EXPECT(srl_device_resolve("gpu", &d, why, sizeof why) == SRL_EINVAL &&
           strstr(why, "invalid device 'gpu'"), "%s", why);
    EXPECT(srl_device_resolve("cuda:x", &d, why, sizeof why) == SRL_EINVAL);
    EXPECT(srl_device_resolve("cuda:999", &d, why, sizeof why) == SRL_ENOCUDA &&
           (strstr(why, "no CUDA device 999") || strstr(why, "no CUDA backend")), "%s", why);
}

int main(void)
{
    RUN(test_strerror_and_exit_status);
    RUN(test_message_one_line);
    RUN(test_device_resolve);
    return test_summary();
}
