/* Helpers of the fuzz targets: see fuzz.h. */
#include <config.h>

#include <stdio.h>

#include "fuzz.h"

#define READ_BUDGET (32 * MiB)   /* bytes read per input, at most */

/* Read [OFF, OFF+LEN) in chunks within the budget; a ZERO extent must
 * read as zeros. */
static const char *
read_range (struct disk *d, uint8_t *buf, uint64_t off, uint64_t len,
            bool zero, uint64_t *budget)
{
  while (len > 0 && *budget > 0) {
    size_t n = MIN (MIN (len, (uint64_t) FUZZ_CHUNK), *budget);
    if (disk_pread (d, buf, n, off) == -1)
      return NULL;
    if (zero && !is_zero (buf, n))
      return "an EXTENT_ZERO range does not read as zeros";
    off += n;
    len -= n;
    *budget -= n;
  }
  return NULL;
}

static const char *
read_extents (struct disk *d, uint8_t *buf, int max_calls)
{
  struct extent_vector ev = { 0 };
  uint64_t off = 0, budget = READ_BUDGET;
  const char *broken = NULL;

  for (int calls = 0; !broken && off < d->size && calls < max_calls;
       calls++) {
    ev.len = 0;
    if (disk_extents (d, off, d->size - off, &ev) == -1)
      break;
    if (ev.len == 0)
      broken = "disk_extents made no progress";
    for (size_t i = 0; !broken && i < ev.len; i++) {
      const struct extent *e = &ev.ptr[i];
      if (e->offset != off || e->length == 0 || e->length > d->size - off)
        broken = "extents are not contiguous, in order and inside the disk";
      else
        broken = read_range (d, buf, e->offset, e->length,
                             e->type == EXTENT_ZERO, &budget);
      off += e->length;
    }
  }
  free (ev.ptr);
  return broken;
}

const char *
fuzz_read_disk (struct disk *d, uint8_t *buf, int max_calls)
{
  const char *broken = read_extents (d, buf, max_calls);

  /* An unaligned read across sectors, blocks and grains, and a read of
   * the last byte: paths the aligned walk above does not take. */
  if (d->size > 10000)
    disk_pread (d, buf, 9000, 3);
  if (d->size > 0)
    disk_pread (d, buf, 1, d->size - 1);
  return broken;
}

void
fuzz_quiet (const char *env)
{
  FILE *null;

  if (getenv (env))
    return;
  null = fopen ("/dev/null", "w");
  if (null)
    stderr = null;
}
