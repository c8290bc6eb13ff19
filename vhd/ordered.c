/* Ordered in-place updates: the steps that compact, expand and merge are
 * built from.  Each step leaves the file a valid VHD, and a barrier
 * (fdatasync) separates a step from the next one that relies on it, so
 * a crash or an I/O error at any point leaves either the state before a
 * step or the state after it:
 *
 *   step                        why a crash inside it is harmless
 *   write unreferenced space    nothing points there yet
 *   vhd_set_end                 the new footer is written before the
 *                               file grows past it or shrinks to it, so
 *                               the last 512 bytes are always a footer
 *   vhd_commit_header           one 512-byte sector (table offset, table
 *                               length and the checksum are all in the
 *                               header's first sector), written whole
 *   BAT entries                 each entry changed either points to a
 *                               copy with the same content or marks a
 *                               block that reads the same unallocated
 *
 * Footers and headers are patched in their raw on-disk bytes, so bytes
 * we do not interpret (reserved fields some writers fill) stay as they
 * are and the footer copy at offset 0 keeps matching the one at the end.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>

#include "vhd-internal.h"

int
vhd_lock_fd (int fd, const char *file)
{
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

  /* QEMU holds OFD locks on images it has open; so do we, while we
   * change one.  A whole-file write lock conflicts with any of them. */
  if (fcntl (fd, F_OFD_SETLK, &fl) == -1) {
    if (errno == EAGAIN || errno == EACCES)
      hv_error (HV_E_IO, "%s: the file is in use (locked by another "
                "process, such as a running virtual machine)", file);
    else
      hv_error (HV_E_IO, "%s: locking: %m", file);
    return -1;
  }
  return 0;
}

int
vhd_barrier (struct vhd *v)
{
  if (full_fdatasync (v->fd) == -1) {
    hv_error (HV_E_IO, "%s: fdatasync: %m", v->d.filename);
    return -1;
  }
  return 0;
}

int
vhd_write (struct vhd *v, const void *buf, size_t n, uint64_t at,
           const char *what)
{
  if (full_pwrite (v->fd, buf, n, at) == -1) {
    hv_error (HV_E_IO, "%s: writing %s (%zu bytes at offset %" PRIu64
              "): %m", v->d.filename, what, n, at);
    return -1;
  }
  return 0;
}

int
vhd_copy (struct vhd *v, uint64_t from, uint64_t to, uint64_t n)
{
  if (full_copy_range (v->fd, from, v->fd, to, n) == -1) {
    hv_error (HV_E_IO, "%s: copying %" PRIu64 " bytes from offset %" PRIu64
              " to %" PRIu64 ": %m", v->d.filename, n, from, to);
    return -1;
  }
  return 0;
}

/* Entries [LO, HI) of TABLE at TABLE_OFFSET; with PAD, 0xFF up to the
 * next sector boundary (unused entries, as every writer pads). */
int
vhd_write_bat (struct vhd *v, const uint32_t *table, uint64_t table_offset,
               uint32_t lo, uint32_t hi, bool pad)
{
  size_t len = (size_t) (hi - lo) * 4;
  size_t padded = pad ? ROUND_UP (len, VHD_SECTOR) : len;
  uint8_t *raw = malloc (padded ? padded : 1);
  int r;

  if (raw == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  memset (raw + len, 0xFF, padded - len);
  for (uint32_t i = lo; i < hi; i++)
    store_be32 (raw + 4 * (i - lo), table[i]);
  r = vhd_write (v, raw, padded, table_offset + 4ULL * lo, "the BAT");
  free (raw);
  return r;
}

int
vhd_commit_header (struct vhd *v, uint64_t table_offset, uint32_t entries)
{
  uint8_t buf[VHD_HEADER_SIZE];
  const uint64_t at = v->footer.data_offset;

  if (full_pread (v->fd, buf, sizeof buf, at) == -1) {
    hv_error (HV_E_IO, "%s: reading the dynamic header: %m", v->d.filename);
    return -1;
  }
  store_be64 (buf + 16, table_offset);
  store_be32 (buf + 28, entries);
  store_be32 (buf + 36, vhd_checksum (buf, sizeof buf, 36));
  /* Only the first sector changed: one sector, written whole. */
  if (vhd_write (v, buf, VHD_SECTOR, at, "the dynamic header") == -1 ||
      vhd_barrier (v) == -1)
    return -1;
  v->header.table_offset = table_offset;
  v->header.max_table_entries = entries;
  return 0;
}

int
vhd_raw_footer (struct vhd *v, uint8_t buf[VHD_FOOTER_SIZE])
{
  if (full_pread (v->fd, buf, VHD_FOOTER_SIZE,
                  v->file_size - VHD_FOOTER_SIZE) == 0 &&
      vhd_footer_valid (buf))
    return 0;
  /* open.c fell back to the copy at 0 (with a warning). */
  if (full_pread (v->fd, buf, VHD_FOOTER_SIZE, 0) == 0 &&
      vhd_footer_valid (buf))
    return 0;
  hv_error (HV_E_IO, "%s: rereading the footer: %m", v->d.filename);
  return -1;
}

uint64_t
vhd_block_span (const struct vhd *v, uint32_t blk)
{
  uint64_t start = (uint64_t) v->bat[blk] * VHD_SECTOR;
  uint64_t full = (uint64_t) v->bitmap_size + v->block_size;

  /* A later writer may fill the whole block, so it owns all of it. */
  return start + full <= v->file_size - VHD_FOOTER_SIZE ? full
    : vhd_block_bytes (v, blk);
}

void
vhd_footer_set_size (uint8_t buf[VHD_FOOTER_SIZE], uint64_t size)
{
  struct vhd_geometry g;

  vhd_geometry (size, &g);
  /* Both sizes: the spec calls the original size informational, but
   * libvhdi takes it as the disk's size (like Azure's resizing tools,
   * which set both, we keep every reader in agreement). */
  store_be64 (buf + 40, size);
  store_be64 (buf + 48, size);
  store_be16 (buf + 56, g.cylinders);
  buf[58] = g.heads;
  buf[59] = g.sectors;
  store_be32 (buf + 64, vhd_checksum (buf, VHD_FOOTER_SIZE, 64));
}

int
vhd_set_end (struct vhd *v, const uint8_t footer[VHD_FOOTER_SIZE],
             uint64_t at)
{
  const uint64_t new_size = at + VHD_FOOTER_SIZE;

  /* A footer half over the old one could tear it: callers never ask. */
  if (at > v->file_size - VHD_FOOTER_SIZE && at < v->file_size) {
    hv_error (HV_E_INTERNAL, "%s: footer at %" PRIu64 " overlaps the "
              "footer at the end", v->d.filename, at);
    return -1;
  }
  if (vhd_write (v, footer, VHD_FOOTER_SIZE, at, "the footer") == -1 ||
      vhd_barrier (v) == -1)
    return -1;
  if (new_size < v->file_size) {
    if (full_ftruncate (v->fd, new_size) == -1) {
      hv_error (HV_E_IO, "%s: truncating to %" PRIu64 " bytes: %m",
                v->d.filename, new_size);
      return -1;
    }
    if (vhd_barrier (v) == -1)
      return -1;
  }
  v->file_size = new_size;
  v->next_free = at;
  return 0;
}
