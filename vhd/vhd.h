/* hvconvert: vhd/, the Microsoft VHD format (Virtual Hard Disk Image
 * Format Specification v1.0, October 2006).
 *
 * The one header of vhd/.  A VHD opens as a `struct disk` (common.h);
 * the disk owns its file descriptor, its BAT and, for differencing disks,
 * its open parent chain.  Facts and interop quirks: ../shared/FORMATS.md
 * section 1, summarised where they are used.
 */
#ifndef HV_VHD_H
#define HV_VHD_H

#include "common.h"

#define VHD_SECTOR            512
#define VHD_FOOTER_SIZE       512
#define VHD_HEADER_SIZE       1024
#define VHD_MAX_SIZE          (2040 * GiB)   /* spec limit; qemu agrees */
#define VHD_DEFAULT_SIZE      (127 * GiB)    /* Hyper-V's default new disk */
#define VHD_DEFAULT_BLOCK     (2 * MiB)
#define VHD_MIN_BLOCK         512            /* read; create wants more */
#define VHD_MAX_BLOCK         (256 * MiB)
#define VHD_MAX_CHAIN         64             /* differencing depth we follow */
#define VHD_EPOCH             946684800      /* 2000-01-01 00:00:00 UTC */
#define VHD_LOCATORS          8

enum vhd_type {
  VHD_TYPE_NONE = 0,
  VHD_TYPE_FIXED = 2,
  VHD_TYPE_DYNAMIC = 3,
  VHD_TYPE_DIFF = 4,
};

/* Parent locator platform codes (big-endian four-character codes). */
#define VHD_PLAT_NONE  0
#define VHD_PLAT_WI2R  0x57693272   /* "Wi2r" deprecated relative */
#define VHD_PLAT_WI2K  0x5769326B   /* "Wi2k" deprecated absolute */
#define VHD_PLAT_W2RU  0x57327275   /* "W2ru" relative, UTF-16LE */
#define VHD_PLAT_W2KU  0x57326B75   /* "W2ku" absolute, UTF-16LE */
#define VHD_PLAT_MAC   0x4D616320   /* "Mac " alias blob */
#define VHD_PLAT_MACX  0x4D616358   /* "MacX" file URL, UTF-8 */

/* The 512-byte hard disk footer in host order.  On disk every field is
 * big-endian; format.c converts in one place. */
struct vhd_footer {
  uint8_t cookie[8];          /* "conectix" */
  uint32_t features;          /* bit1 reserved, always set */
  uint32_t version;           /* 0x00010000 */
  uint64_t data_offset;       /* dyn header offset; all ones for fixed */
  uint32_t timestamp;         /* seconds since VHD_EPOCH */
  uint8_t creator_app[4];
  uint32_t creator_version;
  uint32_t creator_os;
  uint64_t original_size;
  uint64_t current_size;      /* the virtual size (hvconvert's rule) */
  uint16_t cylinders;
  uint8_t heads;
  uint8_t sectors;            /* per track */
  uint32_t disk_type;         /* enum vhd_type */
  uint32_t checksum;
  uint8_t uuid[16];           /* opaque bytes, compared bytewise */
  uint8_t saved_state;
};

struct vhd_locator {
  uint32_t code;              /* VHD_PLAT_* */
  uint32_t data_space;        /* sectors (or bytes, see locator.c) */
  uint32_t data_length;       /* bytes */
  uint64_t data_offset;       /* absolute file offset */
};

/* The 1024-byte dynamic disk header in host order (big-endian on disk). */
struct vhd_header {
  uint8_t cookie[8];          /* "cxsparse" */
  uint64_t data_offset;       /* unused, all ones */
  uint64_t table_offset;      /* BAT */
  uint32_t version;           /* 0x00010000 */
  uint32_t max_table_entries;
  uint32_t block_size;
  uint32_t checksum;
  uint8_t parent_uuid[16];
  uint32_t parent_timestamp;
  uint8_t parent_name[512];   /* UTF-16BE, NUL padded, kept raw */
  struct vhd_locator loc[VHD_LOCATORS];
};

/* format.c: decode/encode.  Encode computes and stores the checksum. */
void vhd_footer_decode (const uint8_t buf[VHD_FOOTER_SIZE],
                        struct vhd_footer *f);
void vhd_footer_encode (struct vhd_footer *f, uint8_t buf[VHD_FOOTER_SIZE]);
void vhd_header_decode (const uint8_t buf[VHD_HEADER_SIZE],
                        struct vhd_header *h);
void vhd_header_encode (struct vhd_header *h, uint8_t buf[VHD_HEADER_SIZE]);
/* One's complement of the byte sum, skipping the 4 bytes at CSUM_OFF. */
uint32_t vhd_checksum (const uint8_t *buf, size_t len, size_t csum_off);
const char *vhd_type_name (uint32_t disk_type);   /* "fixed", ... */

/* geometry.c: CHS from the spec's appendix (floor; C*H*S <= sectors). */
struct vhd_geometry {
  uint16_t cylinders;
  uint8_t heads;
  uint8_t sectors;
};
void vhd_geometry (uint64_t size, struct vhd_geometry *g);
uint64_t vhd_geometry_bytes (const struct vhd_geometry *g);

/* Check a requested virtual size: a multiple of 512, not zero, at most
 * VHD_MAX_SIZE.  Reports with WHAT (a file name) and returns -1. */
int vhd_check_size (const char *what, uint64_t size);

/* create.c: create a new VHD and return it open for writing.
 * FILENAME must not exist (O_EXCL).  For VHD_TYPE_DIFF the size comes
 * from the parent and PARENT is recorded by UUID, timestamp, name and
 * W2ku (absolute) + W2ru (relative) locators.  FILENAME_FOR_LOCATORS,
 * if not NULL, is the final name the file will have after a rename, so
 * the relative locator is computed from the right directory. */
struct vhd_create_opts {
  enum vhd_type type;
  uint64_t size;              /* bytes; ignored for VHD_TYPE_DIFF */
  uint32_t block_size;        /* 0 = VHD_DEFAULT_BLOCK */
  const char *parent;         /* VHD_TYPE_DIFF only */
  const char *final_name;     /* optional, see above */
  bool no_sync;               /* flush does not fsync: see VHD_OPEN_NOSYNC */
};
struct disk *vhd_create (const char *filename,
                         const struct vhd_create_opts *o);

/* open.c: open an existing VHD as a disk.  Verifies checksums (falling
 * back to the footer copy at offset 0 with a warning), bounds every field
 * against the file, and opens the parent chain of a differencing disk. */
#define VHD_OPEN_WRITE    1u  /* open read-write (never the parents) */
#define VHD_OPEN_NOPARENT 2u  /* do not open a differencing parent (for
                               * info); reads that need it then fail */
#define VHD_OPEN_NOSYNC   4u  /* flush writes the metadata but does not
                               * fsync: the caller syncs, or chose not to
                               * (--no-sync) */
struct disk *vhd_open (const char *filename, unsigned flags);

/* Probe: does this open file look like a VHD (a valid footer at the end,
 * or a dynamic/differencing footer copy at 0)?  No reporting. */
bool vhd_probe (int fd, uint64_t file_size);

/* Accessors for a disk returned by vhd_open/vhd_create (NULL or 0 if D
 * is not a VHD). */
bool vhd_is_vhd (const struct disk *d);
const struct vhd_footer *vhd_disk_footer (const struct disk *d);
const struct vhd_header *vhd_disk_header (const struct disk *d); /* NULL for fixed */
struct disk *vhd_disk_parent (const struct disk *d);
uint32_t vhd_disk_blocks_allocated (const struct disk *d);
uint32_t vhd_disk_blocks_total (const struct disk *d);
const char *vhd_disk_path (const struct disk *d);   /* resolved path */
/* D's own descriptor, for starting writeback while it is written
 * (sync_file_range); -1 when D was opened VHD_OPEN_NOSYNC: nothing will
 * fsync it, so early writeback gains nothing. */
int vhd_disk_sync_fd (const struct disk *d);

/* ------------------------------------------------------------------ */
/* Maintenance of existing VHDs, in place.  Each opens FILENAME itself,
 * takes an exclusive lock on it (refusing a file another process, such
 * as QEMU, has locked), and orders its writes so that a crash at any
 * point leaves a VHD that vhd_check accepts (see ordered.c).  Each
 * returns 0, or -1 after reporting. */

/* compact.c: unallocate the blocks that hold nothing (all zeros in a
 * dynamic disk, an empty bitmap in a differencing disk) and shrink the
 * file; the content does not change.  Refuses fixed disks and a set
 * saved-state flag. */
struct vhd_compact_stats {
  uint32_t blocks_before;     /* allocated blocks before */
  uint32_t dropped;           /* of which unallocated now */
  uint32_t moved;             /* blocks copied to lower offsets */
  uint64_t size_before, size_after;   /* file sizes */
};
int vhd_compact (const char *filename, struct vhd_compact_stats *st);

/* expand.c: grow the virtual size of a fixed or dynamic disk to SIZE
 * (a multiple of 512, at most VHD_MAX_SIZE, not smaller than now).  The
 * new space reads as zeros.  Refuses differencing disks and a set
 * saved-state flag.  Does not look for children (vhd_find_children). */
int vhd_expand (const char *filename, uint64_t size);

/* merge.c: fold the differencing disk CHILD into its parent, which must
 * be PARENT if not NULL.  The parent's content becomes the child's; the
 * child is not removed (the caller does that once this succeeded).  On a
 * dynamic or differencing parent the new content appears all at once
 * (old or new, never a mix, whenever it stops); on a fixed parent block
 * by block (the child still covers what is not yet merged).  PARENT_OUT,
 * if not NULL, gets the parent's path (the caller frees it). */
struct vhd_merge_stats {
  uint32_t blocks;            /* parent blocks written */
  uint64_t bytes;             /* child sectors merged, in bytes */
};
int vhd_merge (const char *child, const char *parent, char **parent_out,
               struct vhd_merge_stats *st);

/* children.c: the differencing VHDs in FILE's directory whose header
 * names UUID as their parent (FILE itself excluded): their paths are
 * appended to OUT (the caller frees them).  Unreadable or non-VHD files
 * are skipped. */
int vhd_find_children (const char *file, const uint8_t uuid[16],
                       struct string_vector *out);

/* check.c: validate structure.  Appends one human-readable line per
 * problem to PROBLEMS (the vector owns the strings).  Returns 0 when the
 * file could be examined (problems may still be listed), -1 on an I/O
 * error that stopped the check (reported). */
int vhd_check (const char *filename, struct string_vector *problems);

#endif /* HV_VHD_H */
