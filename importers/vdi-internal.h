/* hvconvert: VirtualBox VDI, shared by vdi.c, vdi-header.c and
 * vdi-parent.c only (the rest of the program sees vdi_probe and
 * vdi_open in importers.h).
 *
 * A VDI file is a pre-header (text, signature 0xBEDA107F at offset 64,
 * version at 68), a header, a block map of little-endian u32 entries
 * and the blocks.  Facts: ../shared/FORMATS.md section 4.1 and
 * VirtualBox's VDICore.h.
 */
#ifndef HV_VDI_INTERNAL_H
#define HV_VDI_INTERNAL_H

#include "importers.h"

#define VDI_SIGNATURE   0xBEDA107Fu
#define VDI_HEADER_READ 512          /* what we read of a header */
#define VDI_HEADER_MIN  420          /* the smallest header: version 0.2 */
#define VDI_UNALLOCATED 0xFFFFFFFFu  /* never written: zeros, or the parent */
#define VDI_ZERO        0xFFFFFFFEu  /* known to be zero */
/* VirtualBox writes 1 MiB blocks; any power of two is valid.  The upper
 * bound keeps a block plus its extra data in 32 bits. */
#define VDI_MIN_BLOCK   512
#define VDI_MAX_BLOCK   (256 * MiB)

enum vdi_type { VDI_NORMAL = 1, VDI_FIXED = 2, VDI_UNDO = 3, VDI_DIFF = 4 };

/* A header of either layout, checked against itself (not yet against
 * the size of its file). */
struct vdi_header {
  uint32_t version;            /* 0x00000002 or 0x0001xxxx */
  uint32_t type;               /* enum vdi_type, never VDI_UNDO */
  uint32_t block_size, block_extra, nblocks, allocated;
  uint64_t disk_size;          /* rounded up to 512 bytes, as qemu does */
  uint64_t map_offset, data_offset;
  uint8_t uuid[16], modification[16], linkage[16];
  uint8_t parent_modification[16];   /* zero in 0.2 headers */
};

/* vdi-header.c: parse the first N bytes of a file (N <= VDI_HEADER_READ)
 * into *H.  Returns 0, or an HV_E_ code with the problem, naming the
 * field and its offset, in WHY. */
int vdi_parse_header (const uint8_t *buf, size_t n, struct vdi_header *h,
                      char *why, size_t why_len);
/* The image UUID and modification UUID of the VDI whose file starts
 * with the N bytes BUF, if it has a header of a version we know. */
bool vdi_header_ids (const uint8_t *buf, size_t n, uint8_t uuid[16],
                     uint8_t modification[16]);

/* vdi-parent.c: the parent of the differencing image FILE with header
 * H, the VDI in FILE's folder whose image UUID is H's linkage UUID,
 * opened through importer_open_related with FLAGS.  NULL after
 * reporting. */
struct disk *vdi_open_parent (const char *file, const struct vdi_header *h,
                              unsigned flags);

#endif /* HV_VDI_INTERNAL_H */
