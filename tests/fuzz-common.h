/* What the libFuzzer targets of image readers share (fuzz-vhd.c,
 * fuzz-vhdx.c): quieting the library's messages and reading a disk the
 * way the copy engine does, checking what it relies on.  Included by
 * one source file per program, so the functions are static. */
#ifndef HV_FUZZ_COMMON_H
#define HV_FUZZ_COMMON_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define FUZZ_CHUNK (1 * MiB)         /* one read; BUF holds this much */
#define FUZZ_EXTENT_CALLS 100000     /* disk_extents calls per input */

/* hv_error prints through the stdio stream `stderr`.  Point that stream
 * at /dev/null: messages are expected for bad input and would drown
 * libFuzzer's status lines.  libFuzzer captured its own copy of the
 * stream at startup and the sanitizers write to descriptor 2, so both
 * still reach the terminal.  Setting the variable ENV keeps the
 * messages (for reproducing a crash). */
static void
fuzz_quiet (const char *env)
{
  FILE *null;

  if (getenv (env))
    return;
  null = fopen ("/dev/null", "w");
  if (null)
    stderr = null;
}

/* Read [OFF, OFF+LEN) in chunks within *BUDGET: a zero extent must read
 * as zeros, and a mapped range must hold what pread reads. */
static void
fuzz_read_range (struct disk *d, uint8_t *buf, uint64_t off, uint64_t len,
                 bool zero, uint64_t *budget, void (*die) (const char *))
{
  while (len > 0 && *budget > 0) {
    size_t n = MIN (MIN (len, (uint64_t) FUZZ_CHUNK), *budget);
    const uint8_t *m;

    if (disk_pread (d, buf, n, off) == -1)
      return;               /* an I/O error on bad input is fine */
    if (zero && !is_zero (buf, n))
      die ("an EXTENT_ZERO range does not read as zeros");
    if ((m = disk_map (d, off, n)) != NULL && memcmp (m, buf, n) != 0)
      die ("the mapping and pread disagree");
    off += n;
    len -= n;
    *budget -= n;
  }
}

/* Walk the whole disk by its extents, which must be contiguous, in
 * order, inside the disk and make progress, reading at most BUDGET
 * bytes of them; then the unaligned reads the walk does not make. */
static void
fuzz_read_disk (struct disk *d, uint8_t *buf, uint64_t budget,
                void (*die) (const char *))
{
  struct extent_vector ev = { 0 };
  uint64_t off = 0;

  for (int calls = 0; off < d->size && calls < FUZZ_EXTENT_CALLS; calls++) {
    ev.len = 0;
    if (disk_extents (d, off, d->size - off, &ev) == -1)
      break;
    if (ev.len == 0)
      die ("disk_extents made no progress");
    for (size_t i = 0; i < ev.len; i++) {
      const struct extent *e = &ev.ptr[i];
      if (e->offset != off || e->length == 0 || e->length > d->size - off)
        die ("extents are not contiguous, in order and inside the disk");
      fuzz_read_range (d, buf, e->offset, e->length,
                       e->type == EXTENT_ZERO, &budget, die);
      off += e->length;
    }
  }
  free (ev.ptr);
  if (d->size > 5000)               /* across sectors and a page */
    disk_pread (d, buf, 5000, 3);
  if (d->size > 0)
    disk_pread (d, buf, 1, d->size - 1);
}

/* The private directory inputs run in (mkdtemp of the template DIR),
 * and the directory the process started in.  The process is in DIR only
 * while an input runs: libFuzzer resolves its corpus and artifact paths
 * from where it was started. */
struct fuzz_dir {
  int fd, start_fd;
};

static bool
fuzz_dir_make (char *dir, struct fuzz_dir *d)
{
  return mkdtemp (dir) != NULL &&
    (d->fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1 &&
    (d->start_fd = open (".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1;
}

static void
fuzz_dir_enter (const struct fuzz_dir *d, bool enter,
                void (*die) (const char *))
{
  if (fchdir (enter ? d->fd : d->start_fd) == -1)
    die (enter ? "cannot chdir to the temporary directory"
               : "cannot chdir back");
}

#endif /* HV_FUZZ_COMMON_H */
