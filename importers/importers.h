/* hvconvert: importers/, foreign disk images opened as a `struct disk`.
 *
 * The one header of importers/.  Every importer opens its source
 * read-only: the source of a conversion is never written to.  The
 * returned disk owns its file descriptor; disk_close (common.h) frees it.
 */
#ifndef HV_IMPORTERS_H
#define HV_IMPORTERS_H

#include "common.h"

/* One image format.  The table in formats.c lists them in probe order;
 * "raw" is last because every file is a valid raw image. */
struct importer_format {
  const char *name;   /* "vhd", "raw": what --format accepts */

  /* Does the open file FD of FILE_SIZE bytes look like this format?
   * Reads with pread only; never reports. */
  bool (*probe) (int fd, uint64_t file_size);

  /* Open FILENAME read-only as a disk.  FLAGS: IMPORTER_* below; pass
   * them on to importer_open_related for backing files.  Returns NULL
   * after reporting. */
  struct disk *(*open) (const char *filename, unsigned flags);
};

/* Flags of importer_open and importer_format.open.  The low bits count
 * how deep in a backing chain the image is (0 for the image the user
 * named); importer_open_related increments them. */
#define IMPORTER_DEPTH_MASK 0xffu
#define IMPORTER_DEPTH(flags) ((flags) & IMPORTER_DEPTH_MASK)
#define IMPORTER_MAX_DEPTH 64
enum {
  /* Files named by an image may be anywhere (--allow-outside-paths). */
  IMPORTER_ALLOW_OUTSIDE = 1u << 8,
};

/* Every disk an importer returns is safe to read from several threads
 * at once: pread and extents may run concurrently (the copy engine
 * decodes compressed sources on all cores), so any cache they keep is
 * protected by a lock or kept per call. */

/* Open a source image.  FORMAT names an entry of the table, or NULL to
 * detect the format by content (never by the file name).  Refuses
 * directories and anything that is neither a regular file nor a block
 * device.  Returns NULL after reporting. */
struct disk *importer_open (const char *filename, const char *format,
                            unsigned flags);

/* related.c: files named inside an image (backing files, parents,
 * extents).  NAME is resolved against the directory of BASE, the image
 * that names it; a name that leads outside that directory (absolute,
 * "..", a symbolic link out) is refused with the code "unsafe" unless
 * FLAGS has IMPORTER_ALLOW_OUTSIDE.  WHAT ("backing file", "extent")
 * is for messages.  importer_related_path returns the malloc'd path;
 * importer_open_related opens it as FORMAT (NULL: detect) one level
 * deeper in the chain, refusing chains of IMPORTER_MAX_DEPTH images.
 * Both return NULL after reporting. */
char *importer_related_path (const char *base, const char *name,
                             unsigned flags, const char *what);
struct disk *importer_open_related (const char *base, const char *name,
                                    const char *format, unsigned flags,
                                    const char *what);
/* Would NAME lead outside the directory of the image naming it (an
 * absolute path or a ".." component)?  For formats that try several
 * names and want a safe one first; the open still checks. */
bool importer_name_leaves_directory (const char *name);

/* The table of formats, for --help and error messages; N gets its
 * length. */
const struct importer_format *importer_formats (size_t *n);

/* raw.c: a raw image file or block device.  Files are read with holes
 * reported as zero extents; a file whose size is not a multiple of 512
 * reads as if padded with zeros to the next sector (with a warning). */
bool raw_probe (int fd, uint64_t file_size);
struct disk *raw_open (const char *filename, unsigned flags);

/* vhdx.c: Hyper-V VHDX (MS-VHDX): fixed, dynamic and differencing,
 * 512 or 4096-byte logical sectors; a log left by a crash is replayed
 * in memory.  The parent of a differencing disk is found through
 * importer_open_related and must be a VHDX whose DataWriteGuid matches
 * the child's parent_linkage. */
bool vhdx_probe (int fd, uint64_t file_size);
struct disk *vhdx_open (const char *filename, unsigned flags);

/* The size of an open regular file or block device in bytes, and its
 * logical sector size (512 for files).  Reports with FILENAME and
 * returns -1 on failure. */
int raw_file_size (int fd, const char *filename, uint64_t *size,
                   uint32_t *sector_size);

#endif /* HV_IMPORTERS_H */
