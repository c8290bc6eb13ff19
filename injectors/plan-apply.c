/* Perform a plan in the appliance, step by step, exactly as printed.
 *
 * A file is replaced by writing a sibling and renaming it over the old
 * one, so no step leaves a half-written file; the old file is first
 * copied to the step's backup name unless that exists already (then it
 * holds the original from an earlier run, which must not be lost).
 * Everything goes into the overlays; commit.c makes it real.
 */
#include <config.h>

#include <guestfs.h>
#include <stdio.h>

#include "injectors.h"

/* Keep PATH as BACKUP (if PATH exists and BACKUP does not). */
static int
keep_backup (guestfs_h *g, const struct inj_step *s)
{
  if (s->backup == NULL || guestfs_exists (g, s->path) != 1 ||
      guestfs_exists (g, s->backup) == 1)
    return 0;
  return guestfs_cp_a (g, s->path, s->backup);
}

/* Put the new content in place: "PATH.hvconvert-new", then rename. */
static int
replace (guestfs_h *g, const struct inj_step *s)
{
  char *tmp = NULL;
  int r = -1;

  if (asprintf (&tmp, "%s.hvconvert-new", s->path) == -1)
    return -1;
  if ((s->kind == INJ_STEP_WRITE
       ? guestfs_write (g, tmp, s->content, s->len)
       : guestfs_upload (g, s->host_file, tmp)) == 0 &&
      guestfs_chmod (g, (int) s->mode, tmp) == 0 &&
      guestfs_mv (g, tmp, s->path) == 0)
    r = 0;
  free (tmp);
  return r;
}

static int
run (guestfs_h *g, const struct inj_step *s)
{
  char *out = guestfs_command (g, s->argv);

  if (out == NULL)
    return -1;
  hv_debug ("%s: %s", s->argv[0], out);
  free (out);
  return 0;
}

static int
apply_step (guestfs_h *g, const struct inj_step *s)
{
  switch (s->kind) {
  case INJ_STEP_WRITE:
  case INJ_STEP_UPLOAD:
    return keep_backup (g, s) == 0 ? replace (g, s) : -1;
  case INJ_STEP_MKDIR:
    return guestfs_mkdir_p (g, s->path);
  case INJ_STEP_SYMLINK:
    if (guestfs_is_dir_opts (g, s->path, -1) == 1)
      return -1;   /* ln -sf would create the link inside it */
    return guestfs_ln_sf (g, s->target, s->path);
  case INJ_STEP_REMOVE:
    if (s->backup && guestfs_exists (g, s->backup) != 1)
      return guestfs_mv (g, s->path, s->backup);
    return guestfs_rm_f (g, s->path);
  case INJ_STEP_COMMAND:
    return run (g, s);
  }
  return -1;
}

int
plan_apply (void *handle, const struct inj_plan *p)
{
  guestfs_h *g = handle;

  for (size_t i = 0; i < p->steps.len; i++) {
    const struct inj_step *s = &p->steps.ptr[i];
    if (hv_check_interrupted () == -1)
      return -1;
    hv_debug ("step %zu: %s", i + 1, s->why);
    if (apply_step (g, s) == -1) {
      hv_error (HV_E_IO, "step %zu (%s): %s: %s; the disks are unchanged",
                i + 1, s->why, s->path, inj_guestfs_error (g));
      return -1;
    }
  }
  if (guestfs_sync (g) == -1) {
    hv_error (HV_E_IO, "libguestfs: %s", inj_guestfs_error (g));
    return -1;
  }
  return 0;
}
