/* The file systems of an inspected guest, as the appliance names them.
 *
 * libguestfs's inspection reads the guest's fstab and maps what it can
 * to the appliance's devices: UUID= and LABEL=, and the source
 * machine's kernel names (/dev/vdb1, /dev/xvda2, ...) by disk order.  A
 * name it cannot place is returned as the guest wrote it, and mounting
 * it fails.  Two such names are placed here:
 *
 *  - "/" is the root file system inspection found, whatever fstab calls
 *    it (a by-id name, as SUSE installs write, or a device only the
 *    source machine had);
 *  - a /dev/disk/by-id or by-path name with udev's "-partN" suffix, when
 *    the appliance has one disk: partition N of it.  With several disks
 *    nothing says which one a serial or bus path was.
 */
#include <config.h>

#include <guestfs.h>
#include <stdio.h>

#include "hypervisor.h"

/* Decimal digits to the end, 1 to 1000000; -1 otherwise. */
static long
partition_number (const char *s)
{
  long v = 0;

  if (*s == '\0')
    return -1;
  for (; *s; s++)
    if (*s < '0' || *s > '9' || (v = v * 10 + (*s - '0')) > 1000000)
      return -1;
  return v > 0 ? v : -1;
}

int
hv_udev_partition (const char *name, unsigned *part)
{
  const char *base = NULL, *suffix = NULL;
  long p;

  if (strncmp (name, "/dev/disk/by-id/", 16) == 0)
    base = name + 16;
  else if (strncmp (name, "/dev/disk/by-path/", 18) == 0)
    base = name + 18;
  if (base == NULL || strchr (base, '/') != NULL)
    return -1;
  for (const char *s = base; (s = strstr (s, "-part")) != NULL; s++)
    suffix = s;
  if (suffix == NULL || suffix == base ||
      (p = partition_number (suffix + 5)) == -1)
    return -1;
  *part = (unsigned) p;
  return 0;
}

/* The appliance's name for DEVICE (see above; malloc'd), or NULL to keep
 * it.  DISKS: the appliance's disks. */
static char *
place (const char *mountpoint, const char *device, const char *root,
       char *const *disks)
{
  unsigned part;
  char *s;

  if (strcmp (mountpoint, "/") == 0)
    return strcmp (device, root) != 0 ? strdup (root) : NULL;
  if (disks[0] == NULL || disks[1] != NULL ||
      hv_udev_partition (device, &part) == -1 ||
      asprintf (&s, "%s%u", disks[0], part) == -1)
    return NULL;
  return s;
}

char **
hv_guestfs_mountpoints (struct guestfs_h *g, const char *root)
{
  char **mp = guestfs_inspect_get_mountpoints (g, root);
  char **disks = mp ? guestfs_list_devices (g) : NULL;

  if (disks == NULL) {
    strings_free (mp);
    return NULL;
  }
  for (size_t i = 0; mp[i] && mp[i + 1]; i += 2) {
    char *dev = place (mp[i], mp[i + 1], root, disks);
    if (dev) {
      hv_debug ("%s: %s is %s in the appliance", mp[i], mp[i + 1], dev);
      free (mp[i + 1]);
      mp[i + 1] = dev;
    }
  }
  strings_free (disks);
  return mp;
}
