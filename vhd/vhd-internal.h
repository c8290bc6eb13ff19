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

/* open.c */
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

/* rw.c */
int vhd_flush_metadata (struct vhd *v);
uint64_t vhd_align_block (const struct vhd *v, uint64_t off);

#endif /* HV_VHD_INTERNAL_H */
