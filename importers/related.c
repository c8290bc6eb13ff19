/* Files named inside an image: backing files, parents, extents.
 *
 * A QCOW2 backing file, a VDI or VHDX parent and a VMDK extent or
 * parentFileNameHint are names written by whoever made the image, so
 * they are hostile like the rest of it.  A name is resolved against the
 * directory of the image that names it; one that leads outside that
 * directory (an absolute path, "..", or a symbolic link pointing out) is
 * refused unless the user allowed it (IMPORTER_ALLOW_OUTSIDE, the disk
 * command's --allow-outside-paths), so a crafted image cannot make us
 * read /etc/shadow or a device into the output.  Chains are bounded by
 * IMPORTER_MAX_DEPTH, which also ends loops (a -> b -> a).
 */
#include <config.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>

#include "importers.h"

/* The directory part of FILE, malloc'd ("." for a bare name). */
static char *
dir_of (const char *file)
{
  char *copy = strdup (file), *dir;

  if (copy == NULL)
    return NULL;
  dir = strdup (dirname (copy));
  free (copy);
  return dir;
}

/* Is NAME absolute or does it have a ".." component? */
static bool
leaves_directory (const char *name)
{
  const char *p = name;

  if (name[0] == '/')
    return true;
  while (*p) {
    size_t n = strcspn (p, "/");

    if (n == 2 && p[0] == '.' && p[1] == '.')
      return true;
    p += n;
    p += strspn (p, "/");
  }
  return false;
}

bool
importer_name_leaves_directory (const char *name)
{
  return leaves_directory (name);
}

/* Does the existing file PATH resolve to somewhere under directory DIR,
 * after symbolic links?  A missing file is left to the open to report. */
static bool
resolves_inside (const char *dir, const char *path)
{
  char rdir[PATH_MAX], rpath[PATH_MAX];
  size_t n;

  if (realpath (dir, rdir) == NULL || realpath (path, rpath) == NULL)
    return true;
  n = strlen (rdir);
  if (n == 1)                   /* the image is in "/" */
    return true;
  return strncmp (rpath, rdir, n) == 0 && rpath[n] == '/';
}

static int
refuse_outside (const char *base, const char *name, const char *what)
{
  hv_error (HV_E_UNSAFE, "%s: %s '%s' is outside the image's directory; "
            "refusing to follow it (use --allow-outside-paths if the "
            "image is trusted)", base, what, name);
  return -1;
}

char *
importer_related_path (const char *base, const char *name, unsigned flags,
                       const char *what)
{
  char *dir, *path = NULL;
  const bool allow = flags & IMPORTER_ALLOW_OUTSIDE;

  if (name[0] == '\0') {
    hv_error (HV_E_FORMAT, "%s: empty %s name", base, what);
    return NULL;
  }
  if (!allow && leaves_directory (name)) {
    refuse_outside (base, name, what);
    return NULL;
  }
  dir = dir_of (base);
  if (name[0] == '/')
    path = strdup (name);
  else if (dir && asprintf (&path, "%s/%s", dir, name) == -1)
    path = NULL;
  if (dir == NULL || path == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", base);
    free (dir);
    free (path);
    return NULL;
  }
  if (!allow && !resolves_inside (dir, path)) {
    refuse_outside (base, name, what);
    free (path);
    path = NULL;
  }
  free (dir);
  return path;
}

struct disk *
importer_open_related (const char *base, const char *name,
                       const char *format, unsigned flags, const char *what)
{
  const unsigned depth = IMPORTER_DEPTH (flags) + 1;
  struct disk *d;
  char *path;

  if (depth >= IMPORTER_MAX_DEPTH) {
    hv_error (HV_E_FORMAT, "%s: %s chain deeper than %d images (a loop?)",
              base, what, IMPORTER_MAX_DEPTH);
    return NULL;
  }
  path = importer_related_path (base, name, flags, what);
  if (path == NULL)
    return NULL;
  d = importer_open (path, format, (flags & ~IMPORTER_DEPTH_MASK) | depth);
  if (d == NULL)
    hv_error (HV_E_FORMAT, "%s: cannot open its %s '%s'", base, what, name);
  free (path);
  return d;
}
