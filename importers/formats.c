/* The table of source image formats and format detection.
 *
 * Detection looks at the content only, never at the file name: a VHD
 * called disk.img is still a VHD, and a raw image called disk.vhd is
 * still raw.  The first format whose probe accepts the file wins.
 */
#include <config.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "importers.h"
#include "vhd.h"

static struct disk *
vhd_open_readonly (const char *filename, unsigned flags)
{
  return vhd_open (filename, 0);
}

/* Probe order: specific formats first, "raw" (accepts anything) last. */
static const struct importer_format formats[] = {
  { "vhd", vhd_probe, vhd_open_readonly },
  { "qcow2", qcow2_probe, qcow2_open },
  { "vmdk", vmdk_probe, vmdk_open },
  { "vhdx", vhdx_probe, vhdx_open },
  { "vdi", vdi_probe, vdi_open },
  { "raw", raw_probe, raw_open },
};

const struct importer_format *
importer_formats (size_t *n)
{
  *n = ARRAY_SIZE (formats);
  return formats;
}

static const struct importer_format *
format_by_name (const char *name)
{
  char known[128] = "";

  for (size_t i = 0; i < ARRAY_SIZE (formats); i++) {
    if (strcmp (formats[i].name, name) == 0)
      return &formats[i];
    if (i > 0)
      strncat (known, ", ", sizeof known - strlen (known) - 1);
    strncat (known, formats[i].name, sizeof known - strlen (known) - 1);
  }
  hv_error (HV_E_USAGE, "unknown source format '%s' (known: %s)",
            name, known);
  return NULL;
}

/* Directories, FIFOs, sockets and character devices are refused here
 * with a clear message rather than failing oddly in a probe. */
static int
check_file_type (const char *filename)
{
  struct stat st;

  if (stat (filename, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", filename);
    return -1;
  }
  if (S_ISDIR (st.st_mode)) {
    hv_error (HV_E_UNSUPPORTED, "%s: is a directory, not a disk image",
              filename);
    return -1;
  }
  if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode)) {
    hv_error (HV_E_UNSUPPORTED, "%s: not a regular file or a block device",
              filename);
    return -1;
  }
  return 0;
}

static const struct importer_format *
detect (const char *filename)
{
  int fd = open (filename, O_RDONLY | O_CLOEXEC);
  uint64_t size;
  uint32_t sector;
  const struct importer_format *f = NULL;

  if (fd == -1) {
    hv_error (HV_E_IO, "%s: %m", filename);
    return NULL;
  }
  if (raw_file_size (fd, filename, &size, &sector) == 0) {
    for (size_t i = 0; f == NULL && i < ARRAY_SIZE (formats); i++)
      if (formats[i].probe (fd, size))
        f = &formats[i];
  }
  close (fd);
  return f;
}

struct disk *
importer_open (const char *filename, const char *format, unsigned flags)
{
  const struct importer_format *f;

  if (check_file_type (filename) == -1)
    return NULL;
  f = format ? format_by_name (format) : detect (filename);
  if (f == NULL)
    return NULL;
  hv_debug ("%s: opening as %s%s", filename, f->name,
            format ? "" : " (detected)");
  return f->open (filename, flags);
}
