/* The parent of a differencing VDI.
 *
 * A differencing image names its parent only by UUID (its linkage UUID;
 * VirtualBox finds the parent in its media registry).  We look in the
 * child's folder, as VirtualBox keeps a machine's snapshots there next
 * to nothing else of interest: the parent is the VDI whose image UUID
 * is the linkage UUID.  Only regular files are looked at (a FIFO or a
 * device could block or have side effects), and at most VDI_MAX_SCAN
 * entries.  Two files with that UUID (a copy of the parent, say) are
 * told apart by the child's parent modification UUID; when that does
 * not single one out, the image is refused rather than read over a
 * guess.  The parent is opened through importer_open_related, so the
 * directory rule and the depth limit (which ends loops: a -> b -> a)
 * apply.
 */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "vdi-internal.h"

#define VDI_MAX_SCAN 4096            /* folder entries looked at */

/* What the scan found: files with the wanted UUID, the two first in
 * name order kept for the messages. */
struct scan {
  const struct vdi_header *child;
  unsigned found, found_modified;   /* candidates; those also matching */
  char *names[2];                   /* the modification UUID come first */
  bool names_modified[2];
};

/* Does FILE in the folder DIRFD have the image UUID UUID?  *MOD: does
 * its modification UUID also match MODIFICATION? */
static bool
has_uuid (int dirfd, const char *file, const uint8_t uuid[16],
          const uint8_t modification[16], bool *mod)
{
  uint8_t buf[VDI_HEADER_READ], id[16], their_mod[16];
  struct stat st;
  ssize_t n = -1;
  int fd;

  if (fstatat (dirfd, file, &st, 0) == -1 || !S_ISREG (st.st_mode) ||
      st.st_size < VDI_HEADER_MIN)
    return false;
  fd = openat (dirfd, file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd >= 0) {
    n = pread (fd, buf, sizeof buf, 0);
    close (fd);
  }
  if (n <= 0 || !vdi_header_ids (buf, n, id, their_mod) ||
      memcmp (id, uuid, 16) != 0)
    return false;
  *mod = memcmp (their_mod, modification, 16) == 0;
  return true;
}

/* Keep NAME if it is among the two best (modification UUID matching
 * first, then by name), so messages do not depend on readdir's order. */
static int
keep (struct scan *s, const char *name, bool mod)
{
  for (int i = 0; i < 2; i++) {
    if (s->names[i] == NULL || mod > s->names_modified[i] ||
        (mod == s->names_modified[i] && strcmp (name, s->names[i]) < 0)) {
      char *copy = strdup (name);
      if (copy == NULL)
        return -1;
      free (s->names[1]);
      if (i == 0) {
        s->names[1] = s->names[0];
        s->names_modified[1] = s->names_modified[0];
      }
      s->names[i] = copy;
      s->names_modified[i] = mod;
      return 0;
    }
  }
  return 0;
}

static int
scan_folder (const char *dir, struct scan *s)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  unsigned looked = 0;
  bool mod;
  int r = 0;

  if (d == NULL)
    return -1;
  while (r == 0 && looked++ < VDI_MAX_SCAN && (e = readdir (d)) != NULL) {
    if (e->d_name[0] == '.' ||
        !has_uuid (dirfd (d), e->d_name, s->child->linkage,
                   s->child->parent_modification, &mod))
      continue;
    s->found++;
    s->found_modified += mod;
    r = keep (s, e->d_name, mod);
  }
  closedir (d);
  return r;
}

/* The folder of FILE, malloc'd. */
static char *
folder_of (const char *file)
{
  const char *slash = strrchr (file, '/');

  if (slash == NULL)
    return strdup (".");
  if (slash == file)
    return strdup ("/");
  return strndup (file, slash - file);
}

/* The name of the parent in S, or NULL after reporting. */
static const char *
choose (const char *file, const struct scan *s)
{
  char hex[37];

  guid_format (s->child->linkage, hex);
  if (s->found == 1 || s->found_modified == 1)
    return s->names[0];
  if (s->found == 0)
    hv_error (HV_E_PARENT, "%s: the parent, a VDI with UUID %s, is not in "
              "the image's folder", file, hex);
  else
    hv_error (HV_E_PARENT, "%s: %u VDIs in the image's folder have the "
              "parent's UUID %s (%s, %s%s) and its parent modification "
              "UUID does not tell which is the parent; move the others "
              "away", file, s->found, hex, s->names[0], s->names[1],
              s->found > 2 ? ", ..." : "");
  return NULL;
}

struct disk *
vdi_open_parent (const char *file, const struct vdi_header *h,
                 unsigned flags)
{
  struct scan s = { .child = h };
  char *dir = folder_of (file);
  const char *name = NULL;
  struct disk *parent = NULL;

  if (memcmp (h->linkage, h->uuid, 16) == 0)
    hv_error (HV_E_FORMAT, "%s: a differencing image whose parent is "
              "itself (its linkage UUID is its own UUID)", file);
  else if (dir == NULL || scan_folder (dir, &s) == -1)
    hv_error (HV_E_IO, "%s: looking for its parent in %s: %m", file,
              dir ? dir : "its folder");
  else if ((name = choose (file, &s)) != NULL)
    parent = importer_open_related (file, name, "vdi", flags, "parent");
  free (s.names[0]);
  free (s.names[1]);
  free (dir);
  return parent;
}
