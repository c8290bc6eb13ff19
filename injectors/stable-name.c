/* From a device name in the guest's configuration to a name that still
 * holds after conversion.
 *
 * The guest names its disks after the controller it had: /dev/hda on
 * IDE (old kernels), /dev/sda on SCSI/SATA, /dev/vda on virtio-blk,
 * /dev/xvda on Xen, /dev/cciss/c0d0 on HP Smart Array, /dev/nvme0n1 on
 * NVMe.  On Hyper-V all of them become /dev/sdX, in an order that need
 * not be the old one.  The appliance sees the same disks in the order
 * they were given to inject, so the Nth disk of the guest's naming is
 * the Nth disk here; its partition's file system UUID (or label) is what
 * the configuration should say instead.
 *
 * /dev/disk/by-id and by-path names say which disk by its serial or bus
 * position, both of which change, and udev adds "-partN" for partition
 * N.  Only when the guest has one disk is it clear which disk that was,
 * so only then is partition N of it what they name (a CD-ROM's by-id
 * name has no -partN and is never taken for the disk).
 */
#include <config.h>

#include <guestfs.h>
#include <stdio.h>

#include "injectors.h"
#include "hypervisor.h"

/* Disk letters "a".."z", "aa".. -> 0, 1, ..; -1 if not letters. */
static int
letters_index (const char *s, size_t n)
{
  int v = 0;

  if (n == 0 || n > 3)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < 'a' || s[i] > 'z')
      return -1;
    v = v * 26 + (s[i] - 'a' + 1);
  }
  return v - 1;
}

/* Digits at S (none: 0 with *END = S); -1 if too large. */
static long
number (const char *s, const char **end)
{
  long v = 0;

  for (*end = s; **end >= '0' && **end <= '9'; (*end)++)
    if ((v = v * 10 + (**end - '0')) > 1000000)
      return -1;
  return v;
}

/* The kernel's names with a letter suffix: sd, hd, vd, xvd. */
static int
parse_lettered (const char *name, unsigned *disk, unsigned *part)
{
  static const char *const prefixes[] = { "xvd", "sd", "hd", "vd" };

  for (size_t i = 0; i < ARRAY_SIZE (prefixes); i++) {
    size_t pl = strlen (prefixes[i]), n;
    const char *end;
    long p;
    int d;
    if (strncmp (name, prefixes[i], pl) != 0)
      continue;
    name += pl;
    n = strspn (name, "abcdefghijklmnopqrstuvwxyz");
    if ((d = letters_index (name, n)) < 0 ||
        (p = number (name + n, &end)) < 0 || *end != '\0')
      return -1;
    *disk = (unsigned) d;
    *part = (unsigned) p;
    return 0;
  }
  return -1;
}

/* cciss/c0d1p2, nvme1n1p2: the disk number, then "p" and a partition. */
static int
parse_numbered (const char *name, unsigned *disk, unsigned *part)
{
  const char *end;
  long d, p = 0;

  if (strncmp (name, "cciss/c", 7) == 0) {
    if (number (name + 7, &end) < 0 || *end != 'd' ||
        (d = number (end + 1, &end)) < 0)
      return -1;
  }
  else if (strncmp (name, "nvme", 4) == 0) {
    if ((d = number (name + 4, &end)) < 0 || end == name + 4 ||
        *end != 'n' || number (end + 1, &end) < 0)
      return -1;
  }
  else
    return -1;
  if (*end == 'p' && ((p = number (end + 1, &end)) <= 0))
    return -1;
  if (*end != '\0')
    return -1;
  *disk = (unsigned) d;
  *part = (unsigned) p;
  return 0;
}

int
inj_parse_device (const char *name, unsigned *disk, unsigned *part)
{
  if (strncmp (name, "/dev/", 5) != 0)
    return -1;
  name += 5;
  return parse_lettered (name, disk, part) == 0 ? 0
       : parse_numbered (name, disk, part);
}

/* The guest's disk and partition that GUEST_DEVICE names, of NDISKS;
 * -1 if it names none we can tell. */
static int
guest_partition (const char *guest_device, size_t ndisks, unsigned *disk,
                 unsigned *part)
{
  if (inj_parse_device (guest_device, disk, part) == 0)
    return *disk < ndisks ? 0 : -1;
  if (ndisks == 1 && hv_udev_partition (guest_device, part) == 0) {
    *disk = 0;
    return 0;
  }
  return -1;
}

/* "UUID=..." or "LABEL=..." of the appliance device DEV; NULL if it has
 * neither. */
static char *
stable_of (guestfs_h *g, const char *dev)
{
  char *uuid, *label, *s = NULL;

  if ((uuid = guestfs_vfs_uuid (g, dev)) && uuid[0]) {
    if (asprintf (&s, "UUID=%s", uuid) == -1)
      s = NULL;
  }
  else if ((label = guestfs_vfs_label (g, dev)) && label[0]) {
    if (asprintf (&s, "LABEL=%s", label) == -1)
      s = NULL;
    free (label);
  }
  free (uuid);
  return s;
}

char *
inj_stable_name (void *ctx, const char *guest_device)
{
  struct inj_session *s = ctx;
  char *const *devices = inj_session_devices (s);
  unsigned disk, part;
  size_t n = 0;
  char dev[64];

  if (strncmp (guest_device, "/dev/disk/by-uuid/", 18) == 0) {
    char *r;
    if (asprintf (&r, "UUID=%s", guest_device + 18) == -1)
      return NULL;
    return r;
  }
  if (strncmp (guest_device, "/dev/disk/by-label/", 19) == 0) {
    char *r;
    if (asprintf (&r, "LABEL=%s", guest_device + 19) == -1)
      return NULL;
    return r;
  }
  while (devices && devices[n])
    n++;
  if (guest_partition (guest_device, n, &disk, &part) == -1)
    return NULL;
  if (part == 0)
    snprintf (dev, sizeof dev, "%s", devices[disk]);
  else
    snprintf (dev, sizeof dev, "%s%u", devices[disk], part);
  return stable_of (inj_session_handle (s), dev);
}
