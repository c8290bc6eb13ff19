/* One inject run in libguestfs: the disks behind throw-away overlays,
 * the appliance, inspection, the chosen root mounted read-only for
 * planning, and read-write for apply.
 *
 * The disks themselves are never opened for writing by the appliance:
 * it writes into qcow2 overlays next to them, and only when every step
 * of the plan succeeded and the appliance shut down cleanly are the
 * overlays committed (commit.c).  A failed or interrupted run before
 * that leaves the disks as they were.
 */
#include <config.h>

#include <fcntl.h>
#include <guestfs.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include "hypervisor.h"
#include "injectors.h"

struct inj_session {
  guestfs_h *g;
  struct inj_guest guest;
  char **disks;             /* as given */
  char **overlays;          /* one per disk */
  size_t n;
  char **devices;           /* the appliance's whole-disk devices */
  char **mountpoints;       /* pairs "mountpoint", "device" */
  bool *skip;               /* per pair: not mountable, left out */
};

/* The overlay of DISK: a hidden file beside it (the commit renames it,
 * so it must be on the same file system). */
static char *
overlay_name (const char *disk)
{
  char *copy = strdup (disk), *dir, *base, *name = NULL;

  if (copy == NULL)
    return NULL;
  dir = dirname (copy);
  base = strrchr (disk, '/') ? strrchr (disk, '/') + 1 : (char *) disk;
  if (asprintf (&name, "%s/.%s.inject-%ld.qcow2", dir, base,
                (long) getpid ()) == -1)
    name = NULL;
  free (copy);
  return name;
}

static int
add_disks (struct inj_session *s, bool dry_run)
{
  for (size_t i = 0; i < s->n; i++) {
    const char *fmt;
    if (inj_finish_pending (s->disks[i], dry_run) == -1 ||
        inj_disk_format (s->disks[i], &fmt) == -1)
      return -1;
    if ((s->overlays[i] = overlay_name (s->disks[i])) == NULL) {
      hv_error (HV_E_NOMEM, "out of memory");
      return -1;
    }
    if (hv_overlay_create (s->disks[i], fmt, s->overlays[i]) == -1) {
      free (s->overlays[i]);
      s->overlays[i] = NULL;
      return -1;
    }
    if (guestfs_add_drive_opts (s->g, s->overlays[i],
                                GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
                                -1) == -1) {
      hv_error (HV_E_IO, "%s: %s", s->disks[i], inj_guestfs_error (s->g));
      return -1;
    }
  }
  return 0;
}

static int
launch (struct inj_session *s, bool dry_run)
{
  const double start = now_seconds ();

  if ((s->g = hv_guestfs_new ()) == NULL)
    return -1;
  /* Errors are reported once, by us, with the disk named. */
  guestfs_set_error_handler (s->g, NULL, NULL);
  if (add_disks (s, dry_run) == -1)
    return -1;
  if (guestfs_launch (s->g) == -1) {
    hv_error (HV_E_IO, "libguestfs could not start its appliance: %s",
              inj_guestfs_error (s->g));
    return -1;
  }
  hv_debug ("appliance started in %.1f s (%s)", now_seconds () - start,
            hv_guestfs_backend_settings ()[0] ? "force_tcg" : "kvm");
  if ((s->devices = guestfs_list_devices (s->g)) == NULL) {
    hv_error (HV_E_IO, "libguestfs: %s", inj_guestfs_error (s->g));
    return -1;
  }
  return 0;
}

/* "/dev/sda2 (Debian GNU/Linux 12)" for the message that lists roots. */
static char *
describe_root (guestfs_h *g, const char *root)
{
  char *product = guestfs_inspect_get_product_name (g, root), *s = NULL;

  if (asprintf (&s, "%s (%s)", root, product ? product : "unknown") == -1)
    s = NULL;
  free (product);
  return s;
}

/* The root to change: --root, or the only one there is. */
static char *
choose_root (struct inj_session *s, const struct inj_opts *o)
{
  char **roots = guestfs_inspect_os (s->g), *chosen = NULL;
  size_t n = 0;

  if (roots == NULL) {
    hv_error (HV_E_IO, "libguestfs inspection failed: %s", inj_guestfs_error (s->g));
    return NULL;
  }
  while (roots[n])
    n++;
  for (size_t i = 0; o->root && i < n; i++)
    if (strcmp (roots[i], o->root) == 0)
      chosen = strdup (roots[i]);
  if (n == 1 && o->root == NULL)
    chosen = strdup (roots[0]);
  if (chosen == NULL) {
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&list, &len);
    for (size_t i = 0; f && i < n; i++) {
      char *d = describe_root (s->g, roots[i]);
      fprintf (f, "%s%s", i ? ", " : "", d ? d : roots[i]);
      free (d);
    }
    if (f)
      fclose (f);
    if (n == 0)
      hv_error (HV_E_FORMAT, "%s: no operating system found on the disk%s "
                "(libguestfs inspection recognises none)", s->disks[0],
                s->n > 1 ? "s" : "");
    else if (o->root)
      hv_error (HV_E_USAGE, "--root %s: not an operating system root on "
                "these disks; the roots are: %s", o->root, list ? list : "");
    else
      hv_error (HV_E_USAGE, "%s: %zu operating systems: %s; choose one "
                "with --root", s->disks[0], n, list ? list : "");
    free (list);
  }
  strings_free (roots);
  return chosen;
}

/* Mount the root's file systems, shortest mount point first, read-only
 * or not.  A file system that will not mount read-write (full, damaged,
 * a hibernated NTFS) fails here with libguestfs's reason. */
static int
mount_all (struct inj_session *s, bool ro)
{
  char **mp = s->mountpoints;
  size_t n = 0;

  while (mp[n])
    n += 2;
  if (s->skip == NULL && (s->skip = calloc (n / 2 + 1, sizeof *s->skip))
      == NULL) {
    hv_error (HV_E_NOMEM, "out of memory");
    return -1;
  }
  for (size_t len = 1; len < 4096; len++)
    for (size_t i = 0; i < n; i += 2) {
      if (strlen (mp[i]) != len || s->skip[i / 2])
        continue;
      if ((ro ? guestfs_mount_ro (s->g, mp[i + 1], mp[i])
              : guestfs_mount (s->g, mp[i + 1], mp[i])) == 0)
        continue;
      /* The root must mount; another file system the guest's fstab
       * names may be on a disk not given (a data disk), which should
       * not stop the enlightenment of the system. */
      if (strcmp (mp[i], "/") == 0 || !ro) {
        hv_error (HV_E_IO, "%s: cannot mount %s on %s%s: %s", s->disks[0],
                  mp[i + 1], mp[i], ro ? " read-only" : "", inj_guestfs_error (s->g));
        return -1;
      }
      hv_warning (HV_E_IO, "%s: %s (%s) not mounted: %s; files there are "
                  "neither read nor changed", s->disks[0], mp[i],
                  mp[i + 1], inj_guestfs_error (s->g));
      s->skip[i / 2] = true;
    }
  return 0;
}

static char *
get_string (guestfs_h *g, char *(*fn) (guestfs_h *, const char *),
            const char *root)
{
  char *v = fn (g, root);
  return v ? v : strdup ("unknown");
}

static int
inspect (struct inj_session *s, const struct inj_opts *o)
{
  struct inj_guest *gu = &s->guest;
  guestfs_h *g = s->g;

  if ((gu->root = choose_root (s, o)) == NULL)
    return -1;
  gu->type = get_string (g, guestfs_inspect_get_type, gu->root);
  gu->distro = get_string (g, guestfs_inspect_get_distro, gu->root);
  gu->product = get_string (g, guestfs_inspect_get_product_name, gu->root);
  gu->arch = get_string (g, guestfs_inspect_get_arch, gu->root);
  gu->package_format = get_string (g, guestfs_inspect_get_package_format,
                                   gu->root);
  gu->hostname = get_string (g, guestfs_inspect_get_hostname, gu->root);
  gu->major = guestfs_inspect_get_major_version (g, gu->root);
  gu->minor = guestfs_inspect_get_minor_version (g, gu->root);
  if (strcmp (gu->type, "windows") == 0)
    gu->systemroot = guestfs_inspect_get_windows_systemroot (g, gu->root);
  if (!gu->type || !gu->distro || !gu->product || !gu->arch ||
      !gu->package_format || !gu->hostname) {
    hv_error (HV_E_NOMEM, "out of memory");
    return -1;
  }
  if ((s->mountpoints = hv_guestfs_mountpoints (g, gu->root)) == NULL) {
    hv_error (HV_E_IO, "%s: %s", gu->root, inj_guestfs_error (g));
    return -1;
  }
  return mount_all (s, true);
}

struct inj_session *
inj_session_open (char *const *disks, size_t n, const struct inj_opts *o)
{
  struct inj_session *s = calloc (1, sizeof *s);

  if (s == NULL || (s->overlays = calloc (n, sizeof *s->overlays)) == NULL ||
      (s->disks = calloc (n + 1, sizeof *s->disks)) == NULL) {
    hv_error (HV_E_NOMEM, "out of memory");
    inj_session_close (s);
    return NULL;
  }
  s->n = n;
  for (size_t i = 0; i < n; i++)
    if ((s->disks[i] = strdup (disks[i])) == NULL) {
      hv_error (HV_E_NOMEM, "out of memory");
      inj_session_close (s);
      return NULL;
    }
  if ((s->guest.workdir = hv_private_dir ("hvconvert-inject")) == NULL ||
      launch (s, o->dry_run) == -1 || inspect (s, o) == -1) {
    inj_session_close (s);
    return NULL;
  }
  inj_fs_guestfs (s->g, &s->guest.fs);
  s->guest.stable_name = inj_stable_name;
  s->guest.stable_ctx = s;
  return s;
}

void
inj_guest_label (const struct inj_guest *g, char *buf, size_t n)
{
  /* Inspection gives Debian's product name as just its version. */
  if (strpbrk (g->product, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    snprintf (buf, n, "%s", g->product);
  else
    snprintf (buf, n, "%s %s", g->distro, g->product);
}

struct inj_guest *
inj_session_guest (struct inj_session *s)
{
  return &s->guest;
}

void *
inj_session_handle (struct inj_session *s)
{
  return s->g;
}

char *const *
inj_session_devices (struct inj_session *s)
{
  return s->devices;
}

int
inj_session_apply (struct inj_session *s, const struct inj_plan *p)
{
  const double start = now_seconds ();

  if (guestfs_umount_all (s->g) == -1) {
    hv_error (HV_E_IO, "libguestfs: %s", inj_guestfs_error (s->g));
    return -1;
  }
  if (mount_all (s, false) == -1 || plan_apply (s->g, p) == -1)
    return -1;
  /* Unmount and stop the appliance: every write is then in the
   * overlays, and only now may they be committed. */
  if (guestfs_umount_all (s->g) == -1 || guestfs_shutdown (s->g) == -1) {
    hv_error (HV_E_IO, "libguestfs could not finish writing: %s",
              inj_guestfs_error (s->g));
    return -1;
  }
  hv_debug ("plan applied in the appliance in %.1f s",
            now_seconds () - start);
  for (size_t i = 0; i < s->n; i++) {
    if (inj_commit_overlay (s->overlays[i], s->disks[i]) == -1)
      return -1;
    free (s->overlays[i]);
    s->overlays[i] = NULL;
  }
  return 0;
}

static void
guest_free (struct inj_guest *g)
{
  free (g->root);
  free (g->type);
  free (g->distro);
  free (g->product);
  free (g->arch);
  free (g->package_format);
  free (g->systemroot);
  free (g->hostname);
  if (g->workdir)
    hv_remove_tree (g->workdir);
  free (g->workdir);
}

void
inj_session_close (struct inj_session *s)
{
  if (s == NULL)
    return;
  if (s->g)
    guestfs_close (s->g);
  for (size_t i = 0; s->overlays && i < s->n; i++) {
    if (s->overlays[i])
      unlink (s->overlays[i]);
    free (s->overlays[i]);
  }
  guest_free (&s->guest);
  strings_free (s->disks);
  strings_free (s->devices);
  strings_free (s->mountpoints);
  free (s->skip);
  free (s->overlays);
  free (s);
}
