/* test_log.c -- error strings, exit statuses and device resolution. */
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
    RUN(test_device_resolve);
    return test_summary();
}
