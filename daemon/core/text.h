/* Small character-level checks that parsers in several modules share. */
#ifndef IRD_CORE_TEXT_H
#define IRD_CORE_TEXT_H

#include <stdbool.h>

/* The value of a hex digit (either case), or -1 for any other character. */
int ird_hex_value(char c);
/* Whether s is one or more ASCII decimal digits and nothing else. */
bool ird_all_digits(const char *s);

#endif
