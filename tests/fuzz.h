/* tests/: what the libFuzzer targets (fuzz-*.c) share. */
#ifndef HV_TESTS_FUZZ_H
#define HV_TESTS_FUZZ_H

#include "common.h"

#define FUZZ_CHUNK (1 * MiB)        /* the size of fuzz_read_disk's BUF */

/* fuzz-read.c: read D extent by extent as the copy engine does, within
 * a budget of bytes and of MAX_CALLS disk_extents calls, then a few
 * unaligned reads.  Read errors are fine (the input is bad); a broken
 * promise of the disk interface is not: returns NULL, or what broke
 * (extents not contiguous, no progress, an EXTENT_ZERO range that does
 * not read as zeros) for the target to abort with. */
const char *fuzz_read_disk (struct disk *d, uint8_t *buf, int max_calls);

/* hv_error prints through the stdio stream `stderr`: point that stream
 * at /dev/null, since the library's messages are expected for bad input
 * and would drown libFuzzer's status lines.  libFuzzer captured its own
 * copy of the stream at startup and the sanitizers write to descriptor
 * 2, so both still reach the terminal.  Setting the environment
 * variable ENV (FUZZ_VHD_VERBOSE, ...) keeps the messages, for
 * reproducing a crash. */
void fuzz_quiet (const char *env);

#endif /* HV_TESTS_FUZZ_H */
