/* The table of machine description formats and their detection.
 *
 * Like disk images, descriptions are recognised by content: a .vmc is
 * XML with a <preferences> root whatever its name.  Anything no
 * description format claims is a bare disk image or device, which gets
 * a default machine around it (vm_from_disks).
 */
#include <config.h>

#include <fcntl.h>

#include "importers.h"

#define PROBE_BYTES 4096

/* A bare disk: any file importer_open can read. */
static bool
disk_probe (const char *head, size_t len)
{
  return true;
}

static struct vm *
disk_load (const char *filename, unsigned flags)
{
  struct disk *d = importer_open (filename, NULL, flags);
  char *paths[] = { (char *) filename };

  if (d == NULL)
    return NULL;
  disk_close (d);
  return vm_from_disks (paths, 1);
}

static const struct machine_format formats[] = {
  { "vmc", vmc_probe, vmc_load },
  { "vmx", vmx_probe, vmx_load },
  { "ovf", ovf_probe, ovf_load },
  { "ova", ova_probe, ova_load },
  { "disk", disk_probe, disk_load },
};

const struct machine_format *
machine_formats (size_t *n)
{
  *n = ARRAY_SIZE (formats);
  return formats;
}

static const struct machine_format *
by_name (const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE (formats); i++)
    if (strcmp (formats[i].name, name) == 0)
      return &formats[i];
  hv_error (HV_E_USAGE, "unknown machine description format '%s' (known: "
            "vmc, vmx, ovf, ova, disk)", name);
  return NULL;
}

static const struct machine_format *
detect (const char *filename)
{
  char head[PROBE_BYTES];
  int fd = open (filename, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd == -1) {
    hv_error (HV_E_IO, "%s: %m", filename);
    return NULL;
  }
  n = pread (fd, head, sizeof head, 0);
  close (fd);
  if (n == -1) {
    hv_error (HV_E_IO, "%s: %m", filename);
    return NULL;
  }
  for (size_t i = 0; i < ARRAY_SIZE (formats); i++)
    if (formats[i].probe (head, (size_t) n))
      return &formats[i];
  return NULL;
}

struct vm *
importer_load_vm (const char *filename, const char *format, unsigned flags)
{
  const struct machine_format *f = format ? by_name (format)
    : detect (filename);

  if (f == NULL)
    return NULL;
  hv_debug ("%s: reading as %s%s", filename, f->name,
            format ? "" : " (detected)");
  return f->load (filename, flags);
}
