/* struct disk: bounds checks and dispatch to the format's ops. */
#include <config.h>

#include <inttypes.h>

#include "common.h"

/* Every request must lie inside the virtual disk; formats can then trust
 * offset + count <= size. */
static int
check_range (struct disk *d, const char *op, size_t count, uint64_t offset)
{
  uint64_t end;

  if (ckd_add (&end, offset, (uint64_t) count) || end > d->size) {
    hv_error (HV_E_INTERNAL, "%s: %s of %zu bytes at offset %" PRIu64
              " is beyond the virtual size %" PRIu64,
              d->filename, op, count, offset, d->size);
    return -1;
  }
  return 0;
}

int
disk_pread (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  if (check_range (d, "read", count, offset) == -1)
    return -1;
  if (count == 0)
    return 0;
  return d->ops->pread (d, buf, count, offset);
}

const uint8_t *
disk_map (struct disk *d, uint64_t offset, size_t count)
{
  if (d->ops->map == NULL || count == 0 || offset > d->size ||
      count > d->size - offset)
    return NULL;
  return d->ops->map (d, offset, count);
}

int
disk_pwrite (struct disk *d, const void *buf, size_t count, uint64_t offset)
{
  if (!d->writable || d->ops->pwrite == NULL) {
    hv_error (HV_E_INTERNAL, "%s: disk is opened read-only", d->filename);
    return -1;
  }
  if (check_range (d, "write", count, offset) == -1)
    return -1;
  if (count == 0)
    return 0;
  return d->ops->pwrite (d, buf, count, offset);
}

int
extent_add (struct extent_vector *out, uint64_t offset, uint64_t length,
            enum extent_type type, const char *file)
{
  struct extent *last = out->len ? &out->ptr[out->len - 1] : NULL;

  if (length == 0)
    return 0;
  if (last && last->type == type && last->offset + last->length == offset) {
    last->length += length;
    return 0;
  }
  if (extent_vector_append (out, (struct extent) { offset, length, type })) {
    hv_error (HV_E_NOMEM, "%s: extents: %m", file);
    return -1;
  }
  return 0;
}

int
disk_extents (struct disk *d, uint64_t offset, uint64_t length,
              struct extent_vector *out)
{
  if (check_range (d, "extents query", 0, offset) == -1)
    return -1;
  length = MIN (length, d->size - offset);
  if (length == 0)
    return 0;
  if (d->ops->extents == NULL) {
    struct extent e = { .offset = offset, .length = length,
                        .type = EXTENT_DATA };
    if (extent_vector_append (out, e) == -1) {
      hv_error (HV_E_NOMEM, "%s: extents: %m", d->filename);
      return -1;
    }
    return 0;
  }
  return d->ops->extents (d, offset, length, out);
}

int
disk_flush (struct disk *d)
{
  if (d->ops->flush == NULL)
    return 0;
  return d->ops->flush (d);
}

void
disk_close (struct disk *d)
{
  if (d == NULL)
    return;
  if (d->ops && d->ops->close)
    d->ops->close (d);
  free (d->filename);
  free (d);
}

/* disk_extents may stop short: ask again from where it stopped. */
int
extents_of_sub_disk (struct extent_vector *out, const char *file,
                     struct disk *d, uint64_t at, uint64_t len,
                     uint64_t shift)
{
  const uint64_t end = at + len, stop = MIN (end, d->size);
  struct extent_vector sub = { 0 };
  int r = 0;

  while (r == 0 && at < stop) {
    sub.len = 0;
    r = disk_extents (d, at, stop - at, &sub);
    if (r == 0 && sub.len == 0) {
      hv_error (HV_E_INTERNAL, "%s: no extents at offset %" PRIu64,
                d->filename, at);
      r = -1;
    }
    for (size_t i = 0; r == 0 && i < sub.len; i++) {
      const struct extent *x = &sub.ptr[i];
      const uint64_t n = MIN (x->length, stop - x->offset);
      r = extent_add (out, x->offset + shift, n, x->type, file);
      at = x->offset + n;
    }
  }
  free (sub.ptr);
  if (r == 0 && at < end)
    r = extent_add (out, at + shift, end - at, EXTENT_ZERO, file);
  return r;
}

int
disk_pread_padded (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  const uint64_t size = d ? d->size : 0;
  const size_t n = offset >= size ? 0 : MIN (count, size - offset);

  memset ((uint8_t *) buf + n, 0, count - n);
  return n ? disk_pread (d, buf, n, offset) : 0;
}
