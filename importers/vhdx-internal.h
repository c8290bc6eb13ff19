/* Shared by importers/vhdx*.c only: the open VHDX and the steps of
 * opening it.  Others include importers.h.
 *
 * The format (MS-VHDX; ../shared/FORMATS.md section 2), all little-
 * endian, GUIDs in Windows binary layout:
 *
 *   0       file identifier "vhdxfile" + creator (UTF-16, diagnostic only)
 *   64 KiB  header 1  } 4 KiB each, CRC-32C; the valid one with the
 *   128 KiB header 2  } higher sequence number is current
 *   192 KiB region table 1 } 64 KiB each, CRC-32C: where the BAT and
 *   256 KiB region table 2 } the metadata region are
 *   1 MiB.. log, BAT, metadata region, payload and sector bitmap blocks
 *
 * Open order (vhdx.c): identifier and headers (vhdx-header.c), log
 * replay into an in-memory overlay (vhdx-log.c, vhdx-overlay.c), region
 * tables
 * (vhdx-header.c), metadata (vhdx-meta.c), BAT (vhdx.c), parent
 * (vhdx-parent.c).  Everything after the headers is read through the
 * overlay (vhdx_read), so a dirty file reads as if its log had been
 * replayed, without writing to it.
 *
 * After open the struct is read-only: pread and extents keep their
 * state per call, so several threads may call them at once.
 */
#ifndef HV_VHDX_INTERNAL_H
#define HV_VHDX_INTERNAL_H

#include "importers.h"

#define VHDX_HEADER_SECTION   (1 * MiB)   /* identifier, headers, regions */
#define VHDX_HEADER_SIZE      (4 * KiB)
#define VHDX_REGION_SIZE      (64 * KiB)
#define VHDX_REGION_MAX       2047        /* entries in a region table */
#define VHDX_META_TABLE_SIZE  (64 * KiB)
#define VHDX_META_MAX         2047        /* entries in the metadata table */
#define VHDX_META_ITEM_MAX    (1 * MiB)
#define VHDX_MIN_BLOCK        (1 * MiB)
#define VHDX_MAX_BLOCK        (256 * MiB)
#define VHDX_MAX_SIZE         (64 * TiB)  /* spec limit of VirtualDiskSize */
#define VHDX_LOG_SECTOR       (4 * KiB)
#define VHDX_MAX_LOG          (32 * MiB)  /* larger logs are refused: see
                                           * vhdx-log.c */

/* A GUID's 16 bytes as stored (Windows layout: the first three fields
 * little-endian), written from its text form for readable tables. */
#define VHDX_GUID(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                \
  { (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff, ((a) >> 24) & 0xff, \
    (b) & 0xff, ((b) >> 8) & 0xff, (c) & 0xff, ((c) >> 8) & 0xff,         \
    d0, d1, d2, d3, d4, d5, d6, d7 }

/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" and its NUL. */
#define VHDX_GUID_TEXT 39
void vhdx_guid_format (const uint8_t g[16], char out[VHDX_GUID_TEXT]);
/* Parse that form (braces optional, any case).  Returns 0 or -1. */
int vhdx_guid_parse (const char *s, uint8_t g[16]);
bool vhdx_guid_is_zero (const uint8_t g[16]);
/* CRC-32C of LEN bytes whose checksum field (bytes 4..7) counts as
 * zero, as every VHDX checksum is computed; crc32c () continues it. */
uint32_t vhdx_checksum (const uint8_t *buf, size_t len);

/* A range of the file rewritten by the log: DATA points to its bytes
 * (a 4 KiB log sector put back together), or is NULL for zeros. */
struct vhdx_range {
  uint64_t start, end;
  const uint8_t *data;
};

/* The parent locator's values (UTF-8), NULL when absent; freed by
 * vhdx_locator_free. */
struct vhdx_locator {
  char *linkage, *linkage2;
  char *relative_path, *volume_path, *absolute_win32_path;
};

struct vhdx {
  struct disk d;                /* base: must be first */
  int fd;
  unsigned flags;               /* IMPORTER_*, passed on to the parent */
  uint64_t file_size;           /* bytes in the file */
  uint64_t extended_size;       /* after log replay, at least the
                                 * LastFileOffset of the log: bytes past
                                 * file_size read as zeros */
  bool seek_data;               /* SEEK_DATA finds the holes of the file */
  uint8_t *map;                 /* the file mapped read-only, or NULL */

  /* The current header. */
  int header;                   /* 1 or 2 */
  uint8_t data_write_guid[16];
  uint8_t log_guid[16];
  uint64_t log_offset;
  uint32_t log_length;

  /* The log replayed in memory (NULL and 0 for a clean file).  The
   * ranges are sorted and disjoint; their data points into LOG. */
  uint8_t *log;
  struct vhdx_range *overlay;
  size_t n_overlay;

  /* Regions. */
  uint64_t bat_offset, meta_offset;
  uint32_t bat_length, meta_length;

  /* Metadata. */
  uint32_t block_size;
  uint32_t chunk_ratio;         /* payload blocks per sector bitmap block */
  bool has_parent;

  /* The BAT in host order, read once. */
  uint64_t *bat;
  uint64_t bat_entries;
  uint64_t blocks;              /* payload blocks */

  struct disk *parent;          /* differencing disks only */
};

/* vhdx.c: read LEN bytes of the file at OFF as replayed by the log:
 * bytes past the end of the file read as zeros.  WHAT names the
 * structure in the error message.  Returns 0 or -1 after reporting. */
int vhdx_read (struct vhdx *v, void *buf, size_t len, uint64_t off,
               const char *what);
/* The DataWriteGuid of D if D is an open VHDX, else NULL. */
const uint8_t *vhdx_data_write_guid (const struct disk *d);

/* vhdx-header.c: the GUIDs of the two known regions; the file
 * identifier and current header; then, after the log, the region
 * table.  Each returns 0 or -1 after reporting. */
extern const uint8_t vhdx_bat_region[16], vhdx_metadata_region[16];
int vhdx_read_headers (struct vhdx *v);
int vhdx_read_regions (struct vhdx *v);

/* vhdx-log.c: if the current header names a log, find its active
 * sequence and replay it into v->overlay.  Returns 0 or -1. */
int vhdx_replay_log (struct vhdx *v);

/* vhdx-overlay.c: the replay's writes, in log order (ORDER counts up),
 * made into v->overlay (the vector is sorted in place, not freed), and
 * the overlay laid over BUF, which holds [OFF, OFF+LEN) of the file. */
struct vhdx_write {
  uint64_t start, end;
  const uint8_t *data;          /* NULL: zeros */
  size_t order;
};
DEFINE_VECTOR (vhdx_write_vector, struct vhdx_write)
int vhdx_overlay_build (struct vhdx *v, struct vhdx_write_vector *writes);
void vhdx_overlay_apply (const struct vhdx *v, uint8_t *buf, size_t len,
                         uint64_t off);

/* vhdx-meta.c: the metadata table and items: block size, sector size,
 * virtual size, and for a differencing disk the parent locator into
 * LOC.  Returns 0 or -1. */
int vhdx_read_metadata (struct vhdx *v, struct vhdx_locator *loc);
void vhdx_locator_free (struct vhdx_locator *loc);

/* vhdx-parent.c: find, open and check the parent named by LOC.
 * Returns 0 or -1. */
int vhdx_open_parent (struct vhdx *v, const struct vhdx_locator *loc);

#endif /* HV_VHDX_INTERNAL_H */
