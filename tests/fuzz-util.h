/* What the libFuzzer targets (fuzz-vhd*.c) share.  Header only: each
 * target is one .c file for run-fuzz.sh. */
#ifndef HV_FUZZ_UTIL_H
#define HV_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/* hv_error prints through the stdio stream `stderr`.  Point that stream
 * at /dev/null: the library's messages are expected for bad input and
 * would drown libFuzzer's status lines.  libFuzzer captured its own copy
 * of the stream at startup and the sanitizers write to descriptor 2, so
 * both still reach the terminal.  FUZZ_VHD_VERBOSE=1 keeps the messages
 * (for reproducing a crash). */
static inline void
fuzz_quiet (void)
{
  FILE *null;

  if (getenv ("FUZZ_VHD_VERBOSE"))
    return;
  null = fopen ("/dev/null", "w");
  if (null)
    stderr = null;
}

#endif /* HV_FUZZ_UTIL_H */
