/* VHDX: the parent of a differencing disk.
 *
 * The parent locator gives Windows paths (relative_path such as
 * "..\base\parent.vhdx", volume_path and absolute_win32_path such as
 * "\\?\D:\vms\parent.vhdx") and the parent's identity, parent_linkage
 * (and optionally parent_linkage2): the DataWriteGuid the parent's
 * header had when the child was made.  A parent whose DataWriteGuid
 * differs has been written to since, so the child's sectors no longer
 * fit it: that is refused with the code "parent".
 *
 * Where we look, in order, all through importer_related_path (the
 * directory rule and --allow-outside-paths):
 *   1. relative_path with "\" as "/";
 *   2. the base name of relative_path, volume_path and
 *      absolute_win32_path in the child's directory (a chain copied
 *      from Windows into one directory; the drive and volume of the
 *      absolute paths mean nothing here).
 * A name that leads outside the directory is tried only with
 * --allow-outside-paths; if nothing else is found it is the one
 * reported, with the code "unsafe".  The parent's format is detected by
 * content, but only a VHDX parent can be checked against
 * parent_linkage (Hyper-V makes VHDX children of VHDX parents only).
 */
#include <config.h>

#include <inttypes.h>

#include "vhdx-internal.h"

/* A Windows path as a POSIX relative name: "\" becomes "/". */
static char *
posix_name (const char *win)
{
  char *s = strdup (win);

  for (char *p = s; p && *p; p++) {
    if (*p == '\\')
      *p = '/';
  }
  return s;
}

/* The last component of a Windows path; NULL if there is none. */
static char *
base_name (const char *win)
{
  const char *b = win;

  for (const char *p = win; *p; p++) {
    if (*p == '\\' || *p == '/')
      b = p + 1;
  }
  if (*b == '\0' || strcmp (b, ".") == 0 || strcmp (b, "..") == 0)
    return NULL;
  return strdup (b);
}

/* Append NAME (owned) unless it is NULL or already listed. */
static void
add_name (struct string_vector *names, char *name)
{
  for (size_t i = 0; name && i < names->len; i++) {
    if (strcmp (names->ptr[i], name) == 0) {
      free (name);
      return;
    }
  }
  if (name && string_vector_append (names, name) == -1)
    free (name);
}

static void
candidate_names (const struct vhdx_locator *loc, struct string_vector *out)
{
  const char *paths[] = {
    loc->relative_path, loc->volume_path, loc->absolute_win32_path,
  };

  if (loc->relative_path)
    add_name (out, posix_name (loc->relative_path));
  for (size_t i = 0; i < ARRAY_SIZE (paths); i++) {
    if (paths[i])
      add_name (out, base_name (paths[i]));
  }
}

static int
not_found (const struct vhdx *v, const struct vhdx_locator *loc)
{
  const char *r = loc->relative_path, *a = loc->absolute_win32_path;

  hv_error (HV_E_PARENT, "%s: cannot find the parent disk: relative_path "
            "'%s', absolute_win32_path '%s' (looked in the disk's "
            "directory)", v->d.filename, r ? r : "", a ? a : "");
  return -1;
}

/* The first candidate that exists, as *NAME (pointing into NAMES). */
static int
find_parent (const struct vhdx *v, const struct vhdx_locator *loc,
             const struct string_vector *names, const char **name)
{
  const bool allow = v->flags & IMPORTER_ALLOW_OUTSIDE;
  const char *unsafe = NULL;

  for (size_t i = 0; i < names->len; i++) {
    const char *n = names->ptr[i];
    char *path;
    bool exists;

    if (!allow && importer_name_leaves_directory (n)) {
      unsafe = unsafe ? unsafe : n;
      continue;
    }
    path = importer_related_path (v->d.filename, n, v->flags, "parent");
    if (path == NULL)
      return -1;
    exists = access (path, F_OK) == 0;
    free (path);
    if (exists) {
      *name = n;
      return 0;
    }
  }
  if (unsafe) {     /* the only lead goes outside: refuse it, reporting */
    free (importer_related_path (v->d.filename, unsafe, v->flags, "parent"));
    return -1;
  }
  return not_found (v, loc);
}

static int
check_linkage (const struct vhdx *v, const struct vhdx_locator *loc,
               const char *name)
{
  const uint8_t *dwg = vhdx_data_write_guid (v->parent);
  const char *links[2] = { loc->linkage, loc->linkage2 };
  char have[VHDX_GUID_TEXT];
  uint8_t want[16];

  if (dwg == NULL) {
    hv_error (HV_E_PARENT, "%s: the parent '%s' is a %s image, not a VHDX, "
              "so it cannot be checked against parent_linkage %s",
              v->d.filename, name, v->parent->ops->name, loc->linkage);
    return -1;
  }
  for (int i = 0; i < 2; i++) {
    if (links[i] && vhdx_guid_parse (links[i], want) == 0 &&
        memcmp (want, dwg, 16) == 0)
      return 0;
  }
  vhdx_guid_format (dwg, have);
  hv_error (HV_E_PARENT, "%s: the parent '%s' has DataWriteGuid %s but "
            "parent_linkage is %s: the parent was changed after this "
            "differencing disk was made, or is another disk",
            v->d.filename, name, have, loc->linkage);
  return -1;
}

static int
check_parent (const struct vhdx *v, const struct vhdx_locator *loc,
              const char *name)
{
  if (check_linkage (v, loc, name) == -1)
    return -1;
  if (v->parent->sector_size != v->d.sector_size) {
    hv_error (HV_E_PARENT, "%s: the parent '%s' has %" PRIu32 "-byte "
              "sectors, this disk %" PRIu32, v->d.filename, name,
              v->parent->sector_size, v->d.sector_size);
    return -1;
  }
  return 0;
}

static int
check_locator (const struct vhdx *v, const struct vhdx_locator *loc)
{
  uint8_t g[16];

  if (loc->linkage == NULL || vhdx_guid_parse (loc->linkage, g) == -1) {
    hv_error (HV_E_FORMAT, "%s: the parent locator has no parent_linkage "
              "GUID (found '%s')", v->d.filename,
              loc->linkage ? loc->linkage : "");
    return -1;
  }
  if (!loc->relative_path && !loc->volume_path &&
      !loc->absolute_win32_path) {
    hv_error (HV_E_FORMAT, "%s: the parent locator names no parent file",
              v->d.filename);
    return -1;
  }
  return 0;
}

int
vhdx_open_parent (struct vhdx *v, const struct vhdx_locator *loc)
{
  struct string_vector names = { 0 };
  const char *name;
  int r = -1;

  if (check_locator (v, loc) == -1)
    return -1;
  candidate_names (loc, &names);
  if (find_parent (v, loc, &names, &name) == 0) {
    v->parent = importer_open_related (v->d.filename, name, NULL, v->flags,
                                       "parent");
    if (v->parent)
      r = check_parent (v, loc, name);
  }
  for (size_t i = 0; i < names.len; i++)
    free (names.ptr[i]);
  free (names.ptr);
  return r;
}
