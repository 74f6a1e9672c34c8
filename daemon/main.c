#include <stdio.h>
int main(void) { puts("ird"); return 0; }
