/* Atomic output files and the signals that interrupt a run.
 *
 * An output is written under a hidden temporary name in its target
 * directory, then fsync'd and renamed into place, and the directory
 * fsync'd, so a crash or a failure never leaves a file under the final
 * name that looks finished.  With --no-sync (o->no_sync) the fsyncs are
 * left out: a failure or a signal still leaves nothing finished-looking,
 * but a crash of the machine soon after may; that is the user's choice,
 * for pipelines that sync once at the end.  The temporary lives in the same directory
 * (same file system: rename is atomic) and its name does not end in
 * .vhd.  Signal handlers only set a flag; the temporary is removed by
 * the normal failure path of the code that was interrupted.
 */
#include <config.h>

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include "convert.h"

static void
on_signal (int sig)
{
  hv_interrupted = sig;
}

void
signals_install (void)
{
  static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
  struct sigaction sa = { .sa_handler = on_signal };

  /* No SA_RESTART: a blocked system call returns EINTR and the loop
   * around it sees the flag.  SA_RESETHAND: a second signal kills at
   * once, for a user whose first Ctrl-C seemed to do nothing. */
  sa.sa_flags = SA_RESETHAND;
  sigemptyset (&sa.sa_mask);
  for (size_t i = 0; i < ARRAY_SIZE (sigs); i++)
    sigaction (sigs[i], &sa, NULL);
}

/* An existing DST is refused without --force, and never replaced when it
 * is not a regular file (a directory, a device: surely a mistake). */
static int
check_destination (const char *dst, bool force)
{
  struct stat st;

  if (lstat (dst, &st) == -1) {
    if (errno == ENOENT)
      return 0;
    hv_error (HV_E_IO, "%s: %m", dst);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    hv_error (HV_E_EXISTS, "%s: already exists and is not a regular file",
              dst);
    return -1;
  }
  if (!force) {
    hv_error (HV_E_EXISTS, "%s: already exists (use --force to replace it)",
              dst);
    return -1;
  }
  return 0;
}

/* Open the directory DST will live in and check that we may create files
 * there, so the failure is reported now, with the directory's name. */
static int
open_directory (struct output *o, const char *dir)
{
  o->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (o->dirfd == -1) {
    hv_error (HV_E_IO, "%s: cannot open the output directory: %m", dir);
    return -1;
  }
  if (faccessat (o->dirfd, ".", W_OK, AT_EACCESS) == -1) {
    hv_error (HV_E_IO, "%s: cannot create files in the output directory: "
              "%m", dir);
    return -1;
  }
  return 0;
}

/* ".NAME.hvconvert-XXXXXX" beside DST, with 6 random hex digits. */
static int
temp_names (struct output *o, const char *dir)
{
  uint8_t r[16];

  if (uuid_generate_random (r) == -1) {
    hv_error (HV_E_IO, "generating a temporary name: %m");
    return -1;
  }
  if (asprintf (&o->tmp_base, ".%s.hvconvert-%02x%02x%02x", o->final_base,
                r[0], r[1], r[2]) == -1)
    o->tmp_base = NULL;
  else if (asprintf (&o->tmp, "%s/%s", dir, o->tmp_base) == -1)
    o->tmp = NULL;
  if (o->tmp == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", o->final);
    return -1;
  }
  return 0;
}

int
output_begin (struct output *o, const char *dst, unsigned flags)
{
  CLEANUP_FREE char *copy1 = strdup (dst);
  CLEANUP_FREE char *copy2 = strdup (dst);
  const char *dir;

  *o = (struct output) { .dirfd = -1,
                         .force = flags & OUTPUT_FORCE,
                         .no_sync = flags & OUTPUT_NO_SYNC };
  if (copy1 == NULL || copy2 == NULL ||
      (o->final = strdup (dst)) == NULL ||
      (o->final_base = strdup (basename (copy1))) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", dst);
    return -1;
  }
  dir = dirname (copy2);
  if (check_destination (dst, o->force) == -1 ||
      open_directory (o, dir) == -1 ||
      temp_names (o, dir) == -1)
    return -1;
  hv_debug ("%s: writing to the temporary %s", dst, o->tmp);
  return 0;
}

static int
fsync_temporary (struct output *o)
{
  CLEANUP_CLOSE int fd = openat (o->dirfd, o->tmp_base, O_RDONLY | O_CLOEXEC);

  if (fd == -1) {
    hv_error (HV_E_IO, "%s: %m", o->tmp);
    return -1;
  }
  if (full_fsync (fd) == -1) {
    hv_error (HV_E_IO, "%s: fsync: %m", o->tmp);
    return -1;
  }
  return 0;
}

/* Without --force, RENAME_NOREPLACE keeps a DST that appeared during the
 * copy.  File systems without it (EINVAL) get link + unlink, which fails
 * the same way on an existing DST. */
static int
rename_into_place (struct output *o)
{
  int r;

  if (o->force)
    r = renameat (o->dirfd, o->tmp_base, o->dirfd, o->final_base);
  else {
    r = renameat2 (o->dirfd, o->tmp_base, o->dirfd, o->final_base,
                   RENAME_NOREPLACE);
    if (r == -1 && errno == EINVAL &&
        (r = linkat (o->dirfd, o->tmp_base, o->dirfd, o->final_base, 0)) == 0)
      unlinkat (o->dirfd, o->tmp_base, 0);
  }
  if (r == -1)
    hv_error (errno == EEXIST ? HV_E_EXISTS : HV_E_IO,
              "%s: renaming %s into place: %m", o->final, o->tmp);
  return r;
}

int
output_commit (struct output *o)
{
  if (hv_check_interrupted () == -1 ||
      (!o->no_sync && fsync_temporary (o) == -1) ||
      rename_into_place (o) == -1)
    return -1;
  o->committed = true;
  if (!o->no_sync && full_fsync (o->dirfd) == -1) {
    hv_error (HV_E_IO, "%s: fsync of its directory: %m", o->final);
    return -1;
  }
  return 0;
}

void
output_end (struct output *o)
{
  if (!o->committed && o->tmp_base && o->dirfd >= 0 &&
      unlinkat (o->dirfd, o->tmp_base, 0) == -1 && errno != ENOENT)
    hv_warning (HV_E_IO, "%s: removing the temporary: %m", o->tmp);
  if (o->dirfd >= 0)
    close (o->dirfd);
  free (o->final);
  free (o->final_base);
  free (o->tmp);
  free (o->tmp_base);
  *o = (struct output) { .dirfd = -1 };
}
