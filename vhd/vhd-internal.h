/* vhd/ internals shared by its .c files; nothing outside vhd/ includes
 * this.  struct vhd extends struct disk (base first). */
#ifndef HV_VHD_INTERNAL_H
#define HV_VHD_INTERNAL_H

#include <sys/stat.h>

#include <pthread.h>

#include "vhd.h"

#define VHD_BAT_UNUSED 0xFFFFFFFFu

/* Where new blocks start so that each block's data (after its bitmap) is
 * 4 KiB-aligned in the file: guest I/O then maps to whole host pages. */
#define VHD_DATA_ALIGN 4096

/* The largest BAT we write (create, expand): keeps its memory bounded. */
#define VHD_MAX_BAT_BYTES (16 * MiB)

struct vhd {
  struct disk d;              /* base: must be first */
  int fd;
  char *path;                 /* path we opened (resolved for parents) */
  uint64_t file_size;
  struct vhd_footer footer;
  struct vhd_header header;   /* dynamic/differencing only */

  /* Dynamic and differencing disks. */
  uint32_t *bat;              /* host order, nblocks entries */
  uint32_t nblocks;
  uint32_t block_size;
  uint32_t bitmap_size;       /* bytes on disk, a multiple of 512 */
  uint64_t next_free;         /* where the next block goes (>= footer) */
  uint32_t allocated;         /* blocks in use */
  struct disk *parent;        /* differencing: the open parent chain */

  /* Write state: the BAT and footer are written by flush. */
  bool bat_dirty;
  uint32_t dirty_lo, dirty_hi;   /* BAT entries changed: [lo, hi) */
  bool footer_dirty;
  bool no_sync;               /* VHD_OPEN_NOSYNC */

  /* One cached sector bitmap (differencing reads and writes).  Reads
   * may run in several threads at once: they take a copy under the
   * lock.  Writes are not concurrent with anything. */
  pthread_mutex_t bitmap_lock;
  uint8_t *bitmap;
  uint32_t bitmap_blk;        /* VHD_BAT_UNUSED when empty */
};

/* How a parsing step reports a problem: at open, the first problem is an
 * error and stops; in vhd check, every problem is listed. */
struct vhd_sink {
  const char *file;
  struct string_vector *list;   /* NULL: report with hv_error */
};
/* Returns false when the caller must stop (open mode). */
bool vhd_problem (struct vhd_sink *s, enum hv_code code, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

/* A range of the file: a block (BLK) or metadata (VHD_BAT_UNUSED). */
struct vhd_region {
  uint64_t start, end;
  uint32_t blk;
};
#define VHD_MAX_METADATA_REGIONS (4 + VHD_LOCATORS)

/* open.c */
int vhd_cmp_region (const void *a, const void *b);   /* by start */
/* The footer copy, the footer at the end, the header, the BAT and (for
 * differencing disks) the locator payloads that lie inside the file. */
size_t vhd_metadata_regions (const struct vhd *v, struct vhd_region *r);
/* The bytes block BLK occupies: its bitmap and its data inside the
 * virtual size (the last block may be partial). */
uint64_t vhd_block_bytes (const struct vhd *v, uint32_t blk);
/* CHAIN has room for VHD_MAX_CHAIN + 1 entries; entries [0, depth) are
 * the children opened so far, so a parent loop is detected. */
struct vhd *vhd_load (const char *filename, unsigned flags,
                      struct vhd_sink *sink, int depth, struct stat *chain);
void vhd_close_private (struct disk *d);
bool vhd_footer_valid (const uint8_t buf[VHD_FOOTER_SIZE]);
extern const struct disk_ops vhd_fixed_ops, vhd_sparse_ops;

/* locator.c */
int vhd_open_parent (struct vhd *v, struct vhd_sink *sink, int depth,
                     struct stat *chain);
int vhd_build_locators (const char *child_final, const char *parent,
                        struct vhd_header *h, uint64_t first_free,
                        uint8_t **payload, size_t *payload_len);
uint32_t vhd_locator_space_bytes (uint32_t data_space);

/* ordered.c: the steps of in-place updates (see there).  Each returns
 * 0, or -1 after reporting. */
int vhd_lock_fd (int fd, const char *file);   /* exclusive, or "in use" */
int vhd_barrier (struct vhd *v);              /* fdatasync */
int vhd_write (struct vhd *v, const void *buf, size_t n, uint64_t at,
               const char *what);
int vhd_copy (struct vhd *v, uint64_t from, uint64_t to, uint64_t n);
int vhd_write_bat (struct vhd *v, const uint32_t *table,
                   uint64_t table_offset, uint32_t lo, uint32_t hi, bool pad);
/* Point the header at a BAT of ENTRIES entries at TABLE_OFFSET: one
 * sector write, then a barrier. */
int vhd_commit_header (struct vhd *v, uint64_t table_offset,
                       uint32_t entries);
/* The valid footer's raw bytes (the end one, else the copy at 0). */
int vhd_raw_footer (struct vhd *v, uint8_t buf[VHD_FOOTER_SIZE]);
/* The bytes block BLK takes in the file where it is: the whole block if
 * the file holds it before the footer, else the part inside the disk. */
uint64_t vhd_block_span (const struct vhd *v, uint32_t blk);
/* Patch a raw footer's sizes (original and current), geometry and
 * checksum. */
void vhd_footer_set_size (uint8_t buf[VHD_FOOTER_SIZE], uint64_t size);
/* Make the file end with FOOTER at AT (growing or shrinking it): the
 * footer first, then a barrier, then the truncation if it shrinks.
 * Updates file_size and next_free. */
int vhd_set_end (struct vhd *v, const uint8_t footer[VHD_FOOTER_SIZE],
                 uint64_t at);

/* compact.c: refuse (reporting) when the saved-state flag is set;
 * WHAT says what would change ("compacting it"). */
int vhd_refuse_saved_state (struct vhd *v, const char *what);

/* rw.c */
int vhd_flush_metadata (struct vhd *v);
uint64_t vhd_align_block (const struct vhd *v, uint64_t off);

#endif /* HV_VHD_INTERNAL_H */
