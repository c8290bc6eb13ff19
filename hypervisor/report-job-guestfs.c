/* The report job's general way in: libguestfs.  Its appliance inspects
 * the guest (any root libguestfs can mount: LVM, XFS, Btrfs, ext*),
 * mounts its file systems and applies the plan of report-job.c.  The
 * appliance runs with the accelerator hvconvert uses (backend "direct",
 * settings "force_tcg" unless KVM really works), so it never hangs on a
 * broken KVM.  It takes 15 to 30 s to start under TCG.
 */
#include <config.h>

#include <guestfs.h>
#include <stdio.h>

#include "report-job.h"

static bool
exists (void *ctx, const char *path)
{
  return guestfs_exists (ctx, path) == 1;
}

/* /sbin/init, followed through its links, is systemd. */
static bool
init_is_systemd (guestfs_h *g)
{
  char *real;
  bool r;

  if (guestfs_exists (g, "/sbin/init") != 1 ||
      (real = guestfs_realpath (g, "/sbin/init")) == NULL)
    return false;
  r = strstr (real, "systemd") != NULL;
  free (real);
  return r;
}

/* Mount ROOT's file systems, shortest mount point first ("/" before
 * "/usr").  MP is the list of pairs "mountpoint", "device". */
static int
mount_all (guestfs_h *g, char **mp)
{
  size_t n = 0;

  while (mp && mp[n])
    n += 2;
  for (size_t len = 1; len < 4096; len++)
    for (size_t i = 0; i < n; i += 2)
      if (strlen (mp[i]) == len && guestfs_mount (g, mp[i + 1], mp[i]) == -1)
        return -1;
  return 0;
}

static int
apply (guestfs_h *g, const struct job_plan *p)
{
  for (size_t i = 0; i < p->n; i++) {
    const struct job_step *s = &p->steps[i];
    int r = 0;
    switch (s->kind) {
    case STEP_MKDIR: r = guestfs_mkdir_p (g, s->path); break;
    case STEP_SYMLINK: r = guestfs_ln_sf (g, s->target, s->path); break;
    case STEP_FILE:
      r = guestfs_write (g, s->path, s->content, strlen (s->content));
      if (r == 0)
        r = guestfs_chmod (g, s->mode, s->path);
      break;
    }
    if (r == -1)
      return -1;
  }
  return 0;
}

/* The guest's first operating system: plan and apply.  0 done, 1 not
 * possible (J->how), -1 a libguestfs error (reported by it). */
static int
install (guestfs_h *g, struct hv_report_job *j)
{
  char **roots = guestfs_inspect_os (g), **mp = NULL;
  struct job_guest jg = { .exists = exists, .ctx = g };
  struct job_plan *plan = malloc (sizeof *plan);
  char *type = NULL;
  int r = -1;

  if (roots == NULL || plan == NULL)
    goto out;
  r = 1;
  if (roots[0] == NULL)
    snprintf (j->how, sizeof j->how, "libguestfs found no operating system "
              "on the disks");
  else if ((type = guestfs_inspect_get_type (g, roots[0])) &&
           strcmp (type, "linux") != 0)
    snprintf (j->how, sizeof j->how, "a %s guest: the report job is for "
              "Linux guests", type);
  else if ((mp = hv_guestfs_mountpoints (g, roots[0])) == NULL ||
           mount_all (g, mp) == -1)
    r = -1;
  else {
    jg.init_is_systemd = init_is_systemd (g);
    r = job_plan (&jg, j, plan);
    if (r == 0 && apply (g, plan) == -1)
      r = -1;
  }
 out:
  free (type);
  strings_free (mp);
  strings_free (roots);
  free (plan);
  return r;
}

int
job_install_guestfs (const char *overlay, struct hv_report_job *j)
{
  guestfs_h *g = hv_guestfs_new ();
  int r = -1;

  if (g == NULL)
    return -1;
  if (guestfs_add_drive_opts (g, overlay, GUESTFS_ADD_DRIVE_OPTS_FORMAT,
                              "qcow2", -1) == 0 &&
      guestfs_launch (g) == 0)
    r = install (g, j);
  /* umount_all and shutdown flush the writes into the overlay. */
  if (r == 0 && (guestfs_umount_all (g) == -1 || guestfs_shutdown (g) == -1))
    r = -1;
  if (r == -1)
    hv_error (HV_E_IO, "%s: libguestfs could not put the report job in: %s",
              overlay, guestfs_last_error (g) ? guestfs_last_error (g) : "");
  guestfs_close (g);
  return r;
}
