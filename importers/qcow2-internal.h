/* importers/ QCOW2 internals shared by qcow2.c, qcow2-header.c and
 * qcow2-read.c; nothing else includes this.  struct qcow2 extends
 * struct disk (base first).  References: qemu docs/interop/qcow2.txt
 * and FORMATS.md section 4.2. */
#ifndef HV_QCOW2_INTERNAL_H
#define HV_QCOW2_INTERNAL_H

#include <pthread.h>

#include "importers.h"

/* Cluster sizes qemu creates and reads: 512 bytes to 2 MiB. */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
/* qemu's limit on the active L1 table, also ours: 4 Mi entries. */
#define QCOW2_MAX_L1_BYTES (32 * MiB)
/* Longest backing file name qemu reads or writes. */
#define QCOW2_MAX_BACKING_NAME 1023

/* L1 and standard L2 entries: bits 9-55 are the host offset. */
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ULL
#define QCOW2_L2_COMPRESSED (1ULL << 62)
#define QCOW2_L2_ZERO 1ULL             /* version 3 only */

/* Incompatible feature bits (version 3). */
enum {
  QCOW2_INCOMPAT_DIRTY = 0,
  QCOW2_INCOMPAT_CORRUPT = 1,
  QCOW2_INCOMPAT_DATA_FILE = 2,
  QCOW2_INCOMPAT_COMPRESSION = 3,
  QCOW2_INCOMPAT_EXTL2 = 4,
};

/* The header (big-endian on disk) and what its extensions say, in host
 * order.  Version 2 headers end at byte 72: the version 3 fields are 0
 * there and header_length is 72. */
struct qcow2_header {
  uint32_t version;                /* @4: 2 or 3 */
  uint64_t backing_file_offset;    /* @8: 0 = no backing file */
  uint32_t backing_file_size;      /* @16: name bytes, no NUL */
  uint32_t cluster_bits;           /* @20 */
  uint64_t size;                   /* @24: virtual size in bytes */
  uint32_t crypt_method;           /* @32: 0 none, 1 AES, 2 LUKS */
  uint32_t l1_size;                /* @36: entries */
  uint64_t l1_table_offset;        /* @40 */
  uint64_t refcount_table_offset;  /* @48: unused by a reader */
  uint32_t refcount_table_clusters;/* @56: unused by a reader */
  uint32_t nb_snapshots;           /* @60: snapshots are not read */
  uint64_t snapshots_offset;       /* @64 */
  uint64_t incompatible;           /* @72 (v3) */
  uint64_t compatible;             /* @80 (v3): ignorable */
  uint64_t autoclear;              /* @88 (v3): ignorable */
  uint32_t refcount_order;         /* @96 (v3) */
  uint32_t header_length;          /* @100 (v3) */
  uint8_t compression_type;        /* @104 if header_length > 104 */

  /* From the header extensions and the backing file name. */
  char *backing_file;              /* malloc'd; NULL if none */
  char backing_format[16];         /* extension 0xE2792ACA; "" if none */
};

struct qcow2_l2_cache;

struct qcow2 {
  struct disk d;                   /* base: must be first */
  int fd;
  uint64_t file_size;
  struct qcow2_header h;
  uint32_t cluster_bits;
  uint64_t cluster_size;
  uint32_t l2_bits;                /* log2 of entries per L2 table */
  uint64_t *l1;                    /* host order, l1_entries */
  uint32_t l1_entries;             /* those covering the virtual size */
  /* Compressed cluster descriptors: offset in the low csize_shift bits,
   * then the count of additional 512-byte sectors. */
  uint32_t csize_shift;
  uint64_t csize_mask;
  struct qcow2_l2_cache *cache;    /* qcow2-read.c */
  struct disk *backing;            /* NULL: unallocated reads as zeros */
};

/* qcow2-header.c: read and check the header, its extensions and the
 * backing file name of FD (FILE for messages).  Fills H (free its
 * backing_file with qcow2_header_free).  Returns 0 or -1 after
 * reporting. */
int qcow2_header_read (int fd, const char *file, uint64_t file_size,
                       struct qcow2_header *h);
void qcow2_header_free (struct qcow2_header *h);

/* qcow2-read.c: the L2 cache and the disk operations. */
int qcow2_cache_init (struct qcow2 *q);
void qcow2_cache_free (struct qcow2 *q);
int qcow2_pread (struct disk *d, void *buf, size_t count, uint64_t offset);
int qcow2_extents (struct disk *d, uint64_t offset, uint64_t length,
                   struct extent_vector *out);

#endif /* HV_QCOW2_INTERNAL_H */
