/* The daemon's notion of time. Everything that schedules or stamps reads this
 * clock, so a tabletop exercise can swap in a simulated one. */
#ifndef IRD_CORE_CLOCK_H
#define IRD_CORE_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch. */
int64_t ird_clock_now_ms(void);
/* Install a simulated clock (NULL restores the real one). */
void ird_clock_set(int64_t (*now_ms)(void));
/* Format ms-since-epoch as RFC 3339 UTC with milliseconds into out (>= 32 bytes). */
void ird_clock_format(int64_t ms, char *out, unsigned long outlen);
/* Parse an RFC 3339 timestamp (fraction and offset optional); 0 or -EINVAL. */
int ird_clock_parse(const char *s, int64_t *ret_ms);
/* Parse a duration like "500ms", "30s", "5m", "2h", "1d" or a bare number of
 * seconds into milliseconds; 0 or -EINVAL. */
int ird_duration_parse(const char *s, int64_t *ret_ms);

#endif
