/* Output directories that appear atomically (hvconvert import).
 *
 * A machine is written into a hidden temporary directory beside its
 * final place (".NAME.hvconvert-XXXXXX" in OUTDIR), every file fsync'd
 * as it is closed, then the directory is fsync'd and renamed to
 * OUTDIR/NAME in one step, and OUTDIR fsync'd (no fsync with --no-sync,
 * as in output.c).  A failure or a signal
 * removes the temporary directory, so no half-written machine is ever
 * found under its name.  Only files are put inside (no subfolders), so
 * removal is a flat loop.
 */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "convert.h"

int
outdir_begin (struct outdir *o, const char *parent, const char *name,
              unsigned flags)
{
  const bool force = flags & OUTPUT_FORCE;
  struct stat st;

  *o = (struct outdir) { .force = force, .no_sync = flags & OUTPUT_NO_SYNC };
  if (asprintf (&o->final, "%s/%s", parent, name) == -1 ||
      asprintf (&o->tmp, "%s/.%s.hvconvert-XXXXXX", parent, name) == -1) {
    o->final = o->tmp = NULL;
    hv_error (HV_E_NOMEM, "%s: %m", parent);
    return -1;
  }
  if (mkdir (parent, 0755) == -1 && errno != EEXIST) {
    hv_error (HV_E_IO, "%s: cannot create the output directory: %m",
              parent);
    return -1;
  }
  if (lstat (o->final, &st) == 0 && (!force || !S_ISDIR (st.st_mode))) {
    hv_error (HV_E_EXISTS, "%s: already exists%s", o->final,
              S_ISDIR (st.st_mode) ? " (use --force to replace it)"
              : " and is not a directory");
    return -1;
  }
  if (mkdtemp (o->tmp) == NULL) {
    hv_error (HV_E_IO, "%s: cannot create a directory in %s: %m", name,
              parent);
    free (o->tmp);
    o->tmp = NULL;
    return -1;
  }
  /* mkdtemp makes it private; the finished machine is not. */
  if (chmod (o->tmp, 0755) == -1) {
    hv_error (HV_E_IO, "%s: %m", o->tmp);
    return -1;
  }
  return 0;
}

char *
outdir_path (const struct outdir *o, const char *file)
{
  char *p;

  if (asprintf (&p, "%s/%s", o->tmp, file) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", o->tmp);
    return NULL;
  }
  return p;
}

int
outdir_write (const struct outdir *o, const char *file, const char *text)
{
  char *path = outdir_path (o, file);
  int fd = path ? open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)
    : -1;
  int r = -1;

  if (path && fd == -1)
    hv_error (HV_E_IO, "%s: %m", path);
  else if (fd >= 0 && (full_write (fd, text, strlen (text)) == -1 ||
                       (!o->no_sync && full_fsync (fd) == -1)))
    hv_error (HV_E_IO, "%s: writing: %m", path);
  else if (fd >= 0)
    r = 0;
  if (fd >= 0)
    close (fd);
  free (path);
  return r;
}

static int
fsync_path (const char *path)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r = fd == -1 ? -1 : full_fsync (fd);

  if (fd >= 0)
    close (fd);
  if (r == -1)
    hv_error (HV_E_IO, "%s: fsync: %m", path);
  return r;
}

/* Remove the flat directory DIR and what is in it. */
static void
remove_flat (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;

  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      unlinkat (dirfd (d), e->d_name, 0);
  closedir (d);
  rmdir (dir);
}

/* With --force, an existing OUTDIR/NAME is swapped out in one rename
 * and removed afterwards: there is always a complete machine there. */
static int
replace_final (struct outdir *o)
{
  if (renameat2 (AT_FDCWD, o->tmp, AT_FDCWD, o->final,
                 RENAME_EXCHANGE) == -1) {
    hv_error (HV_E_IO, "%s: replacing it: %m", o->final);
    return -1;
  }
  remove_flat (o->tmp);        /* now the old machine */
  return 0;
}

int
outdir_commit (struct outdir *o)
{
  char *parent = strdup (o->final), *slash;
  int r;

  if (parent == NULL || hv_check_interrupted () == -1 ||
      (!o->no_sync && fsync_path (o->tmp) == -1)) {
    free (parent);
    return -1;
  }
  r = renameat2 (AT_FDCWD, o->tmp, AT_FDCWD, o->final, RENAME_NOREPLACE);
  if (r == -1 && errno == EEXIST && o->force)
    r = replace_final (o);
  else if (r == -1)
    hv_error (errno == EEXIST ? HV_E_EXISTS : HV_E_IO, "%s: %m", o->final);
  if (r == 0) {
    o->committed = true;
    slash = strrchr (parent, '/');
    *slash = '\0';
    r = o->no_sync ? 0 : fsync_path (*parent ? parent : "/");
  }
  free (parent);
  return r;
}

void
outdir_end (struct outdir *o)
{
  if (o->tmp && !o->committed)
    remove_flat (o->tmp);
  free (o->tmp);
  free (o->final);
  o->tmp = o->final = NULL;
}
