/* Finding the differencing children of a disk: the VHDs in its directory
 * whose dynamic header records its UUID as their parent's.  Changing a
 * parent's content (expand, merge into it) invalidates them, so those
 * operations list them and stop unless forced.
 *
 * Every file of the directory is hostile input: only the footer and the
 * header are read, each checked (cookie, checksum, bounds) before use,
 * and anything that is not a valid differencing VHD is skipped silently.
 * Children elsewhere (another directory) cannot be found this way; the
 * man page says so.
 */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>

#include "vhd-internal.h"

/* Does the open file FD of SIZE bytes record UUID as its parent? */
static bool
names_parent (int fd, uint64_t size, const uint8_t uuid[16])
{
  uint8_t buf[VHD_HEADER_SIZE];
  struct vhd_footer f;
  struct vhd_header h;

  if (size < 3 * VHD_FOOTER_SIZE)
    return false;
  if ((full_pread (fd, buf, VHD_FOOTER_SIZE, size - VHD_FOOTER_SIZE) == -1 ||
       !vhd_footer_valid (buf)) &&
      (full_pread (fd, buf, VHD_FOOTER_SIZE, 0) == -1 ||
       !vhd_footer_valid (buf)))
    return false;
  vhd_footer_decode (buf, &f);
  if (f.disk_type != VHD_TYPE_DIFF || f.data_offset > size - VHD_HEADER_SIZE)
    return false;
  if (full_pread (fd, buf, sizeof buf, f.data_offset) == -1 ||
      memcmp (buf, "cxsparse", 8) != 0 ||
      load_be32 (buf + 36) != vhd_checksum (buf, sizeof buf, 36))
    return false;
  vhd_header_decode (buf, &h);
  return memcmp (h.parent_uuid, uuid, 16) == 0;
}

/* Check directory entry NAME; append its path to OUT if it is a child. */
static int
check_entry (int dirfd, const char *dir, const char *name,
             const struct stat *self, const uint8_t uuid[16],
             struct string_vector *out)
{
  struct stat st;
  int fd;
  bool child;
  char *path;

  /* Look before opening: opening a device or a FIFO can have effects. */
  if (fstatat (dirfd, name, &st, 0) == -1 || !S_ISREG (st.st_mode))
    return 0;
  fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd == -1)
    return 0;
  child = fstat (fd, &st) == 0 && S_ISREG (st.st_mode) &&
    !(st.st_dev == self->st_dev && st.st_ino == self->st_ino) &&
    names_parent (fd, st.st_size, uuid);
  close (fd);
  if (!child)
    return 0;
  if (asprintf (&path, "%s/%s", dir, name) == -1 ||
      string_vector_append (out, path) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", dir);
    return -1;
  }
  return 0;
}

int
vhd_find_children (const char *file, const uint8_t uuid[16],
                   struct string_vector *out)
{
  CLEANUP_FREE char *copy = strdup (file);
  const char *dir;
  struct stat self;
  struct dirent *e;
  DIR *d;
  int r = 0;

  if (copy == NULL || stat (file, &self) == -1) {
    hv_error (HV_E_IO, "%s: %m", file);
    return -1;
  }
  dir = dirname (copy);
  d = opendir (dir);
  if (d == NULL) {
    hv_error (HV_E_IO, "%s: listing the directory: %m", dir);
    return -1;
  }
  while (r == 0 && (e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      r = check_entry (dirfd (d), dir, e->d_name, &self, uuid, out);
  closedir (d);
  return r;
}
