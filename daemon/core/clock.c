/* Real and simulated clocks, timestamps and durations. */
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t (*simulated_now)(void);

int64_t ird_clock_now_ms(void)
{
    if (simulated_now)
        return simulated_now();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ird_clock_set(int64_t (*now_ms)(void))
{
    simulated_now = now_ms;
}

void ird_clock_format(int64_t ms, char *out, unsigned long outlen)
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int digits(const char **p, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -EINVAL;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *ret = v;
    return 0;
}

int ird_clock_parse(const char *s, int64_t *ret_ms)
{
    int y, mo, d, h, mi, se;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -EINVAL;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &se))
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -EINVAL;
    int ms = 0;
    if (*p == '.') {
        p++;
        int scale = 100, n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n < 3)
                ms += (*p - '0') * scale;
            scale /= 10;
            n++;
            p++;
        }
        if (n == 0)
            return -EINVAL;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh))
            return -EINVAL;
        if (*p == ':')
            p++;
        if (digits(&p, 2, &om))
            return -EINVAL;
        offset_min = sign * (oh * 60 + om);
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    int64_t secs = (int64_t)timegm(&tm);
    *ret_ms = (secs - (int64_t)offset_min * 60) * 1000 + ms;
    return 0;
}

int ird_duration_parse(const char *s, int64_t *ret_ms)
{
    if (!s || !*s)
        return -EINVAL;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 0 || v > 100000000LL)
            return -EINVAL;
        p = end;
        int64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60 * 1000;
            p++;
        } else if (*p == 'h') {
            unit = 3600 * 1000;
            p++;
        } else if (*p == 'd') {
            unit = 86400 * 1000;
            p++;
        } else if (*p == '\0' && p == end && total == 0 && end != s) {
            unit = 1000; /* a bare number is seconds */
        } else {
            return -EINVAL;
        }
        total += (int64_t)v * unit;
    }
    *ret_ms = total;
    return 0;
}
