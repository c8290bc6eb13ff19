/* hvconvert: VMware VMDK, shared by vmdk.c, vmdk-descriptor.c and
 * vmdk-sparse.c only (the rest of the program sees vmdk_probe and
 * vmdk_open in importers.h).
 *
 * A VMDK disk is a text descriptor listing extents that concatenate, in
 * order, to form the disk: flat files (FLAT, VMFS), sparse files with a
 * grain directory (SPARSE, the "KDMV" format) and ZERO extents with no
 * file.  monolithicSparse and streamOptimized disks are one KDMV file
 * with the descriptor embedded.  A delta disk names its parent with
 * parentFileNameHint; its unallocated grains read from the parent.
 * Facts: ../shared/FORMATS.md section 3 and VMware's "Virtual Disk
 * Format 5.0".
 */
#ifndef HV_VMDK_INTERNAL_H
#define HV_VMDK_INTERNAL_H

#include "importers.h"

#define VMDK_SECTOR 512

/* The largest descriptor we read.  A twoGbMaxExtentSparse descriptor of
 * a 2 TiB disk lists about 1000 extents in about 60 KiB; anything far
 * larger is not a descriptor. */
#define VMDK_DESC_MAX (256 * KiB)

/* The grain directories one disk may load in all: 2040 GiB, the VHD
 * limit, in the smallest grains (512 bytes) needs 32 MiB.  A budget for
 * the disk, not a limit per extent, so a descriptor naming one crafted
 * file a thousand times cannot make us allocate a thousand of them. */
#define VMDK_GD_MAX (32 * MiB)

/* parentCID when there is no parent. */
#define VMDK_CID_NONE 0xffffffffu

/* ---------------------------------------------------------------- */
/* vmdk-descriptor.c: the text descriptor. */

enum vmdk_extent_type {
  VMDK_EXTENT_FLAT,           /* raw data at an offset of a file */
  VMDK_EXTENT_VMFS,           /* ESX flat file: FLAT without an offset */
  VMDK_EXTENT_SPARSE,         /* KDMV sparse file (or COWD, refused) */
  VMDK_EXTENT_ZERO,           /* no file: reads as zeros */
  VMDK_EXTENT_VMFSSPARSE,     /* ESX COWD snapshot: refused */
  VMDK_EXTENT_SESPARSE,       /* ESXi SE sparse snapshot: refused */
  VMDK_EXTENT_VMFSRDM,        /* raw device mapping: refused */
  VMDK_EXTENT_VMFSRAW,        /* raw device: refused */
};

enum vmdk_access { VMDK_RW, VMDK_RDONLY, VMDK_NOACCESS };

/* One extent line: ACCESS SECTORS TYPE ["FILE" [OFFSET]]. */
struct vmdk_desc_extent {
  enum vmdk_access access;
  uint64_t sectors;
  enum vmdk_extent_type type;
  char *file;                 /* NULL for ZERO */
  uint64_t offset;            /* FLAT: start sector in the file */
  unsigned line;              /* line number, for messages */
};
DEFINE_VECTOR (vmdk_desc_extents, struct vmdk_desc_extent)

/* A parsed descriptor; owns its strings and extents. */
struct vmdk_desc {
  unsigned version;           /* 0 if absent */
  bool has_cid, has_parent_cid;
  uint32_t cid, parent_cid;
  char *create_type;          /* NULL if absent */
  char *parent_hint;          /* parentFileNameHint, NULL if absent */
  struct vmdk_desc_extents extents;
};

/* Parse LEN bytes of TEXT (it need not be NUL-terminated; an embedded
 * descriptor ends at its first NUL).  FILE names the source in messages.
 * Fills D, which the caller frees with vmdk_desc_free, also on failure.
 * Returns 0, or -1 after reporting. */
int vmdk_desc_parse (const char *file, const char *text, size_t len,
                     struct vmdk_desc *d);
void vmdk_desc_free (struct vmdk_desc *d);
const char *vmdk_extent_type_name (enum vmdk_extent_type t);

/* Is the createType one we refuse?  Reports (code "unsupported", with
 * what to do instead) and returns -1 if so, else 0. */
int vmdk_check_create_type (const char *file, const char *create_type);

/* Is the extent of a kind we refuse (COWD, SESparse, device-backed,
 * NOACCESS)?  Reports like vmdk_check_create_type. */
int vmdk_check_extent (const char *file, const struct vmdk_desc_extent *e);

/* Does BUF (LEN bytes, the start of a file) begin like a text
 * descriptor: "# Disk DescriptorFile", after an optional UTF-8 BOM and
 * blank space? */
bool vmdk_looks_like_descriptor (const uint8_t *buf, size_t len);

/* ---------------------------------------------------------------- */
/* vmdk-sparse.c: one KDMV sparse extent file. */

struct vmdk_sparse;

/* What a run of grains holds. */
enum vmdk_grain {
  VMDK_GRAIN_UNALLOCATED,     /* GTE 0: zeros, or the parent's data */
  VMDK_GRAIN_ZERO,            /* zeroed-grain GTE: zeros, even in a delta */
  VMDK_GRAIN_DATA,            /* stored in this file */
};

/* A run of grains of one kind starting at grain FIRST.  For DATA runs of
 * an uncompressed extent the grains are also consecutive in the file,
 * so one read covers the run; a compressed run is one grain. */
struct vmdk_run {
  enum vmdk_grain kind;
  uint64_t first;             /* grain number */
  uint64_t count;             /* grains */
  uint64_t sector;            /* DATA: file sector of the first grain */
};

/* Open the KDMV file PATH; messages start with LABEL (the file as the
 * user named it, or "DESCRIPTOR: extent NAME").  Reads and checks the
 * header (the footer of a streamOptimized file whose grain directory is
 * at its end) and the grain directory, whose size is taken from
 * *GD_BUDGET (refused with "too-large" if it does not fit).  Refuses
 * COWD and SESparse files by name.  Returns NULL after reporting. */
struct vmdk_sparse *vmdk_sparse_open (const char *path, const char *label,
                                      uint64_t *gd_budget);
void vmdk_sparse_close (struct vmdk_sparse *s);

uint64_t vmdk_sparse_capacity (const struct vmdk_sparse *s);   /* bytes */
uint32_t vmdk_sparse_grain (const struct vmdk_sparse *s);      /* bytes */

/* The embedded descriptor: malloc'd text in *TEXT and its length in
 * *LEN, or *TEXT NULL if the file has none.  Returns 0 or -1 after
 * reporting. */
int vmdk_sparse_descriptor (struct vmdk_sparse *s, char **text, size_t *len);

/* Look up the run of grains that starts at grain G and holds at most MAX
 * grains (MAX >= 1), within one grain table.  Beyond the capacity a run
 * is UNALLOCATED.  Thread-safe (grain tables are cached under a lock).
 * Returns 0 or -1 after reporting. */
int vmdk_sparse_lookup (struct vmdk_sparse *s, uint64_t g, uint64_t max,
                        struct vmdk_run *run);

/* Read COUNT bytes at byte OFFSET of the extent, all inside the DATA run
 * RUN.  Compressed grains are inflated by this call (into BUF directly
 * when a whole grain is wanted), so threads decode in parallel.  Returns
 * 0 or -1 after reporting. */
int vmdk_sparse_pread (struct vmdk_sparse *s, const struct vmdk_run *run,
                       void *buf, size_t count, uint64_t offset);

#endif /* HV_VMDK_INTERNAL_H */
