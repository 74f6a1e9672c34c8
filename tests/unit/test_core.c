/* core: buffers, durations, timestamps. */
#include "check.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"

#include <stdlib.h>

static void test_buf(void)
{
    struct ird_buf b = IRD_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        CHECK_INT(ird_buf_printf(&b, "%d,", i), 0);
    CHECK(b.len > 2000);
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    ird_buf_consume(&b, 2);
    CHECK(strncmp(b.data, "1,2,", 4) == 0);
    char *s = ird_buf_steal(&b);
    CHECK(b.data == NULL && b.len == 0);
    free(s);
    ird_buf_free(&b);
}

static void test_duration(void)
{
    int64_t ms = 0;
    CHECK_INT(ird_duration_parse("500ms", &ms), 0);
    CHECK_INT(ms, 500);
    CHECK_INT(ird_duration_parse("5m", &ms), 0);
    CHECK_INT(ms, 300000);
    CHECK_INT(ird_duration_parse("1h30m", &ms), 0);
    CHECK_INT(ms, 5400000);
    CHECK_INT(ird_duration_parse("30", &ms), 0);
    CHECK_INT(ms, 30000);
    CHECK_INT(ird_duration_parse("5x", &ms), -EINVAL);
    CHECK_INT(ird_duration_parse("", &ms), -EINVAL);
    CHECK_INT(ird_duration_parse("-5s", &ms), -EINVAL);
    CHECK_INT(ird_duration_parse("m", &ms), -EINVAL);
}

static void test_timestamps(void)
{
    int64_t ms = 0;
    CHECK_INT(ird_clock_parse("2026-12-01T07:35:53Z", &ms), 0);
    CHECK_INT(ms, 1796110553000LL);
    CHECK_INT(ird_clock_parse("2026-12-01T08:35:53.250+01:00", &ms), 0);
    CHECK_INT(ms, 1796110553250LL);
    /* Alertmanager's Go zero time for a firing alert's endsAt. */
    CHECK_INT(ird_clock_parse("0001-01-01T00:00:00Z", &ms), 0);
    CHECK(ms < 0);
    /* Falco's nanosecond fraction. */
    CHECK_INT(ird_clock_parse("2026-12-01T07:35:53.123456789Z", &ms), 0);
    CHECK_INT(ms % 1000, 123);
    CHECK_INT(ird_clock_parse("yesterday", &ms), -EINVAL);
    char out[40];
    ird_clock_format(1796110553250LL, out, sizeof(out));
    CHECK_STR(out, "2026-12-01T07:35:53.250Z");
}

int main(void)
{
    test_buf();
    test_duration();
    test_timestamps();
    struct ird_err e;
    CHECK_INT(ird_err_set(&e, -EINVAL, "x=%d", 3), -EINVAL);
    ird_err_prefix(&e, "alerts[%d]: ", 3);
    CHECK_STR(e.msg, "alerts[3]: x=3");
    return ird_check_summary("test_core");
}
