/* Case-insensitive guest paths.
 *
 * Windows does not care how a name is spelt ("WINDOWS\system32\config\
 * SYSTEM" on XP, "Windows\System32\config\SYSTEM" on 7), but the NTFS
 * driver of the appliance and a test's host directory do.  So a path is
 * resolved one component at a time: the exact name if it is there, else
 * the first name of the directory (they come sorted) that matches it
 * ignoring ASCII case.
 */
#include <config.h>

#include <limits.h>
#include <stdio.h>
#include <strings.h>

#include "windows-internal.h"

/* *OUT = a copy of S; 1, or -1 after reporting (PATH named). */
static int
copy (const char *path, const char *s, char **out)
{
  if ((*out = strdup (s)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", path);
    return -1;
  }
  return 1;
}

/* The name in directory DIR matching NAME (LEN bytes): 1 and *OUT
 * (caller frees), 0 none, -1 after reporting. */
static int
find_name (struct inj_fs *fs, const char *dir, const char *name, size_t len,
           char **out)
{
  char **names;
  int r = 0;

  switch (fs->is_dir (fs->ctx, dir)) {
  case -1: return -1;
  case 0: return 0;             /* a file where a directory should be */
  }
  if ((names = fs->ls (fs->ctx, dir)) == NULL)
    return -1;
  for (size_t i = 0; r == 0 && names[i]; i++)
    if (strlen (names[i]) == len && strncasecmp (names[i], name, len) == 0)
      r = copy (dir, names[i], out);
  strings_free (names);
  return r;
}

int
win_resolve (struct inj_fs *fs, const char *path, char **out)
{
  char done[PATH_MAX] = "";
  const char *p = path;

  switch (fs->exists (fs->ctx, path)) {
  case -1: return -1;
  case 1: return copy (path, path, out);  /* spelt as the guest does */
  }
  while (*(p += strspn (p, "/"))) {
    size_t len = strcspn (p, "/");
    CLEANUP_FREE char *name = NULL;
    size_t n = strlen (done);
    int r = find_name (fs, n ? done : "/", p, len, &name);

    if (r <= 0)
      return r;
    if (n + 1 + strlen (name) >= sizeof done) {
      hv_error (HV_E_TOO_LARGE, "%s: guest path too long", path);
      return -1;
    }
    snprintf (done + n, sizeof done - n, "/%s", name);
    p += len;
  }
  return copy (path, done[0] ? done : "/", out);
}
