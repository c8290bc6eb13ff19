/* tests/: helpers shared by the libFuzzer targets that read a disk image
 * (fuzz-vhd.c, fuzz-qcow2.c).  fuzz-disk.c is built into each target by
 * run-fuzz.sh and into each replay program by Makefile.am.
 *
 * A target works in a private directory, /tmp/NAME.XXXXXX: it writes
 * each input there (readers take a path) together with any files the
 * input may name, and is in that directory only while an input runs,
 * because libFuzzer resolves its corpus and artifact paths from where
 * it was started.  The files registered with fuzz_path are removed at
 * exit and by fuzz_die.
 */
#ifndef HV_FUZZ_H
#define HV_FUZZ_H

#include "common.h"

#define FUZZ_CHUNK (1 * MiB)     /* size of fuzz_buf */

extern uint8_t *fuzz_buf;

/* Make the directory and fuzz_buf; silence the library's messages
 * unless the environment variable VERBOSE_ENV is set. */
void fuzz_init (const char *name, const char *verbose_env);

/* The path of FILE in the directory, removed at exit.  At most 8. */
const char *fuzz_path (const char *file);

/* Write DATA to PATH, replacing it. */
void fuzz_write_file (const char *path, const void *data, size_t size);

/* Enter the directory for one input; leave it after. */
void fuzz_enter (void);
void fuzz_leave (void);

/* A failed invariant: say what, remove the files, abort. */
void fuzz_die (const char *what) __attribute__ ((noreturn));

/* Read the disk extent by extent within a budget of bytes, asserting
 * what the copy engine relies on: extents are contiguous, in order,
 * inside the disk and make progress, and EXTENT_ZERO ranges read as
 * zeros.  Read errors are fine (bad input). */
void fuzz_read_disk (struct disk *d);

/* One input of an image format's target: DATA written to INPUT, PROBE
 * run on it, the image opened with OPEN_IMAGE and read with
 * fuzz_read_disk, inside fuzz_enter/fuzz_leave. */
void fuzz_one_image (const char *input, const uint8_t *data, size_t size,
                     bool (*probe) (int fd, uint64_t size),
                     struct disk *(*open_image) (const char *, unsigned));

#endif /* HV_FUZZ_H */
