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
    srl_log_set_level(SRL_LOG_OFF);
    EXPECT(srl_device_resolve("cpu", &d) == 0 && d.kind == SRL_DEVICE_CPU);
    EXPECT(srl_device_resolve("auto", &d) == 0);
    EXPECT(srl_device_resolve("gpu", &d) == SRL_EINVAL);
    EXPECT(srl_device_resolve("cuda:x", &d) == SRL_EINVAL);
    EXPECT(srl_device_resolve("cuda:999", &d) == SRL_ENOCUDA);
    srl_log_set_level(SRL_LOG_WARNING);
}

int main(void)
{
    RUN(test_strerror_and_exit_status);
    RUN(test_device_resolve);
    return test_summary();
}
