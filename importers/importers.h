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

  /* Open FILENAME read-only as a disk.  FLAGS is 0 (reserved).  Returns
   * NULL after reporting. */
  struct disk *(*open) (const char *filename, unsigned flags);
};

/* Open a source image.  FORMAT names an entry of the table, or NULL to
 * detect the format by content (never by the file name).  Refuses
 * directories and anything that is neither a regular file nor a block
 * device.  Returns NULL after reporting. */
struct disk *importer_open (const char *filename, const char *format);

/* The table of formats, for --help and error messages; N gets its
 * length. */
const struct importer_format *importer_formats (size_t *n);

/* raw.c: a raw image file or block device.  Files are read with holes
 * reported as zero extents; a file whose size is not a multiple of 512
 * reads as if padded with zeros to the next sector (with a warning). */
bool raw_probe (int fd, uint64_t file_size);
struct disk *raw_open (const char *filename, unsigned flags);

/* The size of an open regular file or block device in bytes, and its
 * logical sector size (512 for files).  Reports with FILENAME and
 * returns -1 on failure. */
int raw_file_size (int fd, const char *filename, uint64_t *size,
                   uint32_t *sector_size);

#endif /* HV_IMPORTERS_H */
