/* The report job: a one-shot script put into a Linux guest's root file
 * system, on the throw-away overlay only, that tells the verifier what
 * booted.  This file says what the job is and where it goes; two ways
 * put it there:
 *
 *   report-job-debugfs.c  the fast way (a fraction of a second):
 *                         qemu-storage-daemon exports the qcow2 overlay
 *                         as a raw file through FUSE, debugfs writes
 *                         into the ext2/3/4 root at its partition's
 *                         offset.  Roots on ext2/3/4 partitions only.
 *   report-job-guestfs.c  the general way: libguestfs inspects the
 *                         guest and writes the job (its appliance takes
 *                         15 to 30 s to start under TCG, as long as the
 *                         boot being verified, which is why it is not
 *                         the first choice).  LVM, XFS, Btrfs roots.
 *
 * HVCONVERT_REPORT_JOB=debugfs or =libguestfs picks one way only.
 *
 * Where the job goes, chosen by looking at the guest (first match):
 *
 *   guest has                          the job is
 *   /sbin/init -> systemd              a unit in /etc/systemd/system,
 *                                      wanted by multi-user.target
 *   a hook directory (table below)     an executable script there
 *   /etc/rc2.d (SysV init)             /etc/init.d/ script + S99 links
 *   systemd installed                  the systemd unit
 *
 * The report carries a nonce from OpenSSL's RAND_bytes, made for this
 * run and written only into the overlay, and goes to the second serial
 * port (ttyS1), which nothing else uses: an old log, or a guest that
 * happens to print the marker, cannot fake it.
 */
#include <config.h>

#include <openssl/rand.h>
#include <stdio.h>

#include "report-job.h"

/* Directories whose executable scripts a simple init runs at boot, in
 * the order tried. */
static const char *const hook_dirs[] = {
  "/etc/hvconvert-sample/rc.d",   /* the sample server (fixtures/) */
  "/etc/local.d",                 /* OpenRC's local service: NAME.start */
};

/* The job itself: POSIX sh and busybox-safe commands only.  %s is the
 * nonce. */
static const char job_script[] =
  "#!/bin/sh\n"
  "# hvconvert verify: one-shot report job (on a throw-away overlay).\n"
  "N=%s\n"
  "say () { echo \"HVCONVERT-REPORT $N $*\"; }\n"
  "mods () {\n"
  "  for m in hv_vmbus hv_storvsc hv_netvsc hv_utils; do\n"
  "    if [ -d /sys/module/$m ]; then printf '%%s ' $m; fi\n"
  "  done\n"
  "}\n"
  "avail () {\n"
  "  d=/lib/modules/$(uname -r)\n"
  "  for m in hv_vmbus hv_storvsc hv_netvsc hv_utils; do\n"
  "    if grep -q \"/$m.ko\" $d/modules.builtin $d/modules.dep 2>/dev/null;"
  " then printf '%%s ' $m; fi\n"
  "  done\n"
  "}\n"
  "drivers () {\n"
  "  p=$(readlink -f \"/sys/class/block/${root#/dev/}\" 2>/dev/null)\n"
  "  while [ -n \"$p\" ] && [ \"$p\" != /sys ] && [ \"$p\" != / ]; do\n"
  "    [ -L \"$p/driver\" ] &&"
  " printf '%%s ' \"$(basename \"$(readlink \"$p/driver\")\")\"\n"
  "    p=${p%%/*}\n"
  "  done\n"
  "}\n"
  "root=$(while read -r dev mnt rest; do\n"
  "  [ \"$mnt\" = / ] && [ \"$dev\" != rootfs ] && echo \"$dev\"; done"
  " </proc/mounts)\n"
  "vmbus=0\n"
  "for d in /sys/bus/vmbus/devices/*; do [ -e \"$d\" ] &&"
  " vmbus=$((vmbus + 1)); done\n"
  "{\n"
  "  say begin\n"
  "  say kernel $(uname -r)\n"
  "  say root $root\n"
  "  say root-drivers $(drivers)\n"
  "  say cmdline $(cat /proc/cmdline)\n"
  "  say uptime $(cut -d' ' -f1 /proc/uptime)\n"
  "  say hv-modules-loaded $(mods)\n"
  "  say hv-modules-available $(avail)\n"
  "  say vmbus-devices $vmbus\n"
  "  say end\n"
  "} >/dev/ttyS1 2>/dev/null\n"
  "sleep 1\n"
  "poweroff -f 2>/dev/null || poweroff 2>/dev/null ||"
  " echo o >/proc/sysrq-trigger\n";

static const char systemd_unit[] =
  "[Unit]\n"
  "Description=hvconvert verify report (one shot, throw-away overlay)\n"
  "After=local-fs.target\n\n"
  "[Service]\n"
  "Type=oneshot\n"
  "ExecStart=/etc/" JOB_NAME "\n\n"
  "[Install]\n"
  "WantedBy=multi-user.target\n";

static void
add_step (struct job_plan *p, enum job_step_kind kind, const char *path,
          const char *content, mode_t mode, const char *target)
{
  struct job_step *s = &p->steps[p->n++];

  s->kind = kind;
  snprintf (s->path, sizeof s->path, "%s", path);
  s->content = content;
  s->mode = mode;
  snprintf (s->target, sizeof s->target, "%s", target ? target : "");
}

static void
plan_systemd (struct job_plan *p, struct hv_report_job *j)
{
  static const char wants[] = "/etc/systemd/system/multi-user.target.wants";
  static const char unit[] = "/etc/systemd/system/" JOB_NAME ".service";

  add_step (p, STEP_MKDIR, wants, NULL, 0, NULL);
  add_step (p, STEP_FILE, "/etc/" JOB_NAME, p->script, 0755, NULL);
  add_step (p, STEP_FILE, unit, systemd_unit, 0644, NULL);
  add_step (p, STEP_SYMLINK, wants, NULL, 0, unit);
  snprintf (p->steps[p->n - 1].path, JOB_PATH_MAX, "%s/%s.service", wants,
            JOB_NAME);
  snprintf (j->how, sizeof j->how, "systemd unit %s.service", JOB_NAME);
}

static void
plan_hook_dir (struct job_plan *p, struct hv_report_job *j, const char *dir)
{
  /* OpenRC's local service runs NAME.start. */
  snprintf (j->how, sizeof j->how, "%s/%s%s", dir, JOB_NAME,
            strcmp (dir, "/etc/local.d") == 0 ? ".start" : "");
  add_step (p, STEP_FILE, j->how, p->script, 0755, NULL);
}

static void
plan_sysv (struct job_plan *p, struct hv_report_job *j)
{
  char link[64];

  add_step (p, STEP_FILE, "/etc/init.d/" JOB_NAME, p->script, 0755, NULL);
  for (int rl = 2; rl <= 5; rl++) {
    snprintf (link, sizeof link, "/etc/rc%d.d/S99%s", rl, JOB_NAME);
    add_step (p, STEP_SYMLINK, link, NULL, 0, "../init.d/" JOB_NAME);
  }
  snprintf (j->how, sizeof j->how, "SysV init script /etc/init.d/%s",
            JOB_NAME);
}

int
job_plan (const struct job_guest *g, struct hv_report_job *j,
          struct job_plan *p)
{
  const char *hook = NULL;

  *p = (struct job_plan) { .n = 0 };
  if (snprintf (p->script, sizeof p->script, job_script, j->nonce) >=
      (int) sizeof p->script)
    return 1;
  for (size_t i = 0; i < ARRAY_SIZE (hook_dirs) && !hook; i++)
    if (g->exists (g->ctx, hook_dirs[i]))
      hook = hook_dirs[i];
  if (g->init_is_systemd)
    plan_systemd (p, j);
  else if (hook)
    plan_hook_dir (p, j, hook);
  else if (g->exists (g->ctx, "/etc/rc2.d"))
    plan_sysv (p, j);
  else if (g->exists (g->ctx, "/lib/systemd/systemd") ||
           g->exists (g->ctx, "/usr/lib/systemd/systemd"))
    plan_systemd (p, j);
  else {
    snprintf (j->how, sizeof j->how, "the root file system has no init "
              "this verifier knows (systemd, SysV, a boot hook directory)");
    return 1;
  }
  p->job = p->steps[p->steps[0].kind == STEP_MKDIR ? 1 : 0].path;
  return 0;
}

/* ---------------------------------------------------------------- */

static int
make_nonce (char nonce[HV_NONCE_LEN + 1])
{
  uint8_t r[HV_NONCE_LEN / 2];

  if (RAND_bytes (r, sizeof r) != 1) {
    hv_error (HV_E_INTERNAL, "cannot generate a nonce (OpenSSL RAND_bytes)");
    return -1;
  }
  for (size_t i = 0; i < sizeof r; i++)
    snprintf (nonce + 2 * i, 3, "%02x", r[i]);
  return 0;
}

int
hv_report_job_install (const char *original, const char *overlay,
                       const char *workdir, struct hv_report_job *j)
{
  const char *way = getenv ("HVCONVERT_REPORT_JOB");
  const double start = now_seconds ();
  int r = 1;

  *j = (struct hv_report_job) { 0 };
  if (make_nonce (j->nonce) == -1)
    return -1;
  if (way == NULL || strcmp (way, "libguestfs") != 0)
    r = job_install_debugfs (overlay, workdir, j);
  if (r == 1 && (way == NULL || strcmp (way, "debugfs") != 0)) {
    hv_debug ("%s: %s; trying libguestfs", original,
              way ? "HVCONVERT_REPORT_JOB=libguestfs" : j->how);
    r = job_install_guestfs (overlay, j);
  }
  if (r == 2)
    r = 1;
  j->installed = r == 0;
  hv_debug ("%s: report job %s: %s (%.2f s)", original,
            j->installed ? "installed" : "not installed", j->how,
            now_seconds () - start);
  return r;
}
