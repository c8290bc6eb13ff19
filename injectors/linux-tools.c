/* Other hypervisors' guest tools in a Linux guest, and Hyper-V's own
 * daemons (GUESTS.md A.5).
 *
 * The tools of VMware, VirtualBox and Xen expect their hypervisor: on
 * Hyper-V they fail at every boot, rebuild kernel modules (VirtualBox's
 * vboxadd), or wait for a device that never comes.  They are disabled,
 * not removed, so the package manager still knows them and the user can
 * uninstall them properly:
 *
 *   systemd  the unit is masked: /etc/systemd/system/UNIT -> /dev/null,
 *            when its file is in a unit directory and it is not masked
 *            already;
 *   SysV     the start links /etc/rcN.d/S??NAME are removed (no backup:
 *            a copy left in the rc directory would still start it);
 *            the script in /etc/init.d stays.  systemd's SysV generator
 *            also goes by these links.
 *
 * A guest without the Hyper-V KVP daemon gets a recommendation naming
 * its distribution's package.
 */
#include <config.h>

#include <limits.h>
#include <stdio.h>

#include "injectors.h"

static const char vmware[] = "VMware Tools";
static const char vbox[] = "VirtualBox Guest Additions";
static const char xen[] = "Xen guest tools";

struct foreign {
  const char *name;             /* systemd unit, or SysV script */
  const char *tools;            /* whose */
};

/* open-vm-tools names its units vmtoolsd and vgauthd; Debian and Ubuntu
 * ship open-vm-tools.service and vgauth.service; the desktop package
 * mounts /run/vmblock-fuse, whose unit name escapes the '-'.  The
 * VirtualBox installer writes vboxadd*.service; Debian packages
 * virtualbox-guest-utils.service.  XenServer's xe-guest-utilities runs
 * xe-daemon from xe-linux-distribution.service; xen-guest-agent is its
 * successor. */
static const struct foreign units[] = {
  { "vmtoolsd.service", vmware },
  { "vgauthd.service", vmware },
  { "vgauth.service", vmware },
  { "open-vm-tools.service", vmware },
  { "run-vmblock\\x2dfuse.mount", vmware },
  { "vmware-vmblock-fuse.service", vmware },
  { "vmware-tools.service", vmware },
  { "vboxadd.service", vbox },
  { "vboxadd-service.service", vbox },
  { "vboxadd-x11.service", vbox },
  { "virtualbox-guest-utils.service", vbox },
  { "xe-linux-distribution.service", xen },
  { "xe-daemon.service", xen },
  { "xen-guest-agent.service", xen },
};

static const struct foreign scripts[] = {
  { "vmware-tools", vmware },
  { "open-vm-tools", vmware },
  { "vmtoolsd", vmware },
  { "vboxadd", vbox },
  { "vboxadd-service", vbox },
  { "vboxadd-x11", vbox },
  { "xe-linux-distribution", xen },
  { "xe-daemon", xen },
};

/* Where unit files are installed; masks go in the first. */
static const char *const unit_dirs[] = {
  "/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system",
};

/* The rc directory of a runlevel: RHEL's /etc/rc.d/rcN.d (where
 * /etc/rcN.d points), old SUSE's /etc/init.d/rcN.d, Debian's /etc/rcN.d.
 * The first that exists is the one; the others are links to it. */
static const char *const rc_dirs[] = {   /* + "N.d" */
  "/etc/rc.d/rc", "/etc/init.d/rc", "/etc/rc",
};
static const char runlevels[] = "0123456S";

/* The KVP daemon stands for the Hyper-V daemons (they come in one
 * package everywhere). */
static const char *const daemon_paths[] = {
  "/usr/sbin/hv_kvp_daemon", "/usr/sbin/hypervkvpd", "/sbin/hv_kvp_daemon",
  "/usr/bin/hv_kvp_daemon",
};

/* The package with the Hyper-V daemons, by libguestfs distro name and
 * major version (inclusive range). */
static const struct {
  const char *distro;
  int min, max;
  const char *package;
} daemon_packages[] = {
  { "debian", 8, INT_MAX, "hyperv-daemons" },
  { "debian", 7, 7, "hyperv-daemons (from wheezy-backports)" },
  { "ubuntu", 0, INT_MAX, "linux-cloud-tools-virtual" },
  { "rhel", 7, INT_MAX, "hyperv-daemons" },
  { "centos", 7, INT_MAX, "hyperv-daemons" },
  { "rocky", 8, INT_MAX, "hyperv-daemons" },
  { "almalinux", 8, INT_MAX, "hyperv-daemons" },
  { "oraclelinux", 7, INT_MAX, "hyperv-daemons" },
  { "scientificlinux", 7, INT_MAX, "hyperv-daemons" },
  { "fedora", 0, INT_MAX, "hyperv-daemons" },
  { "rhel", 6, 6, "hypervkvpd" },
  { "centos", 6, 6, "hypervkvpd" },
  { "oraclelinux", 6, 6, "hypervkvpd" },
  { "scientificlinux", 6, 6, "hypervkvpd" },
  { "sles", 0, INT_MAX, "hyper-v" },
  { "opensuse", 0, INT_MAX, "hyper-v" },
  { "suse-based", 0, INT_MAX, "hyper-v" },
};

/* ------------------------------------------------------------------ */
/* systemd */

/* 1 if a file of UNIT is installed in a unit directory, 0 if not. */
static int
unit_installed (struct inj_guest *g, const char *unit)
{
  char path[PATH_MAX];
  int r = 0;

  for (size_t i = 0; r == 0 && i < ARRAY_SIZE (unit_dirs); i++) {
    snprintf (path, sizeof path, "%s/%s", unit_dirs[i], unit);
    r = g->fs.exists (g->fs.ctx, path);
  }
  return r;
}

static int
mask_unit (struct inj_guest *g, struct inj_plan *plan,
           const struct foreign *u)
{
  char path[PATH_MAX], backup[PATH_MAX + 16];
  char *target = NULL;
  bool own_file;
  int r;

  if ((r = unit_installed (g, u->name)) != 1)
    return r;
  snprintf (path, sizeof path, "%s/%s", unit_dirs[0], u->name);
  if ((r = g->fs.exists (g->fs.ctx, path)) == -1)
    return -1;
  /* readlink answers NULL, silently, for a unit file of its own. */
  if (r == 1 && (target = g->fs.readlink (g->fs.ctx, path)) != NULL &&
      strcmp (target, "/dev/null") == 0) {
    free (target);
    return plan_note (plan, INJ_NOTE_INFO, "%s: %s is masked already",
                      u->tools, u->name);
  }
  own_file = r == 1 && target == NULL;
  free (target);
  /* A file of its own is kept; a link (an alias) is just replaced. */
  if (own_file) {
    snprintf (backup, sizeof backup, "%s.pre-hvconvert", path);
    if (plan_remove (plan, path, backup, "%s: %s is replaced by a mask",
                     u->tools, u->name) == -1)
      return -1;
  }
  return plan_symlink (plan, "/dev/null", path,
                       "%s: mask %s, which expects another hypervisor",
                       u->tools, u->name);
}

/* ------------------------------------------------------------------ */
/* SysV */

/* NAME is "S", one to three digits, then SCRIPT. */
static bool
is_start_link (const char *name, const char *script)
{
  size_t digits = strspn (name + (name[0] == 'S'), "0123456789");

  return name[0] == 'S' && digits >= 1 && digits <= 3 &&
         strcmp (name + 1 + digits, script) == 0;
}

/* The rc directory of RUNLEVEL in BUF, or "" if the guest has none. */
static int
rc_dir (struct inj_guest *g, char runlevel, char *buf, size_t size)
{
  for (size_t i = 0; i < ARRAY_SIZE (rc_dirs); i++) {
    int r;
    snprintf (buf, size, "%s%c.d", rc_dirs[i], runlevel);
    if ((r = g->fs.is_dir (g->fs.ctx, buf)) != 0)
      return r == 1 ? 0 : -1;
  }
  buf[0] = '\0';
  return 0;
}

static int
remove_start_links (struct inj_guest *g, struct inj_plan *plan,
                    const char *dir, char runlevel)
{
  char **names = g->fs.ls (g->fs.ctx, dir);
  char path[PATH_MAX];
  int r = 0;

  if (names == NULL)
    return -1;
  for (size_t i = 0; r == 0 && names[i]; i++)
    for (size_t k = 0; r == 0 && k < ARRAY_SIZE (scripts); k++) {
      if (!is_start_link (names[i], scripts[k].name))
        continue;
      snprintf (path, sizeof path, "%s/%s", dir, names[i]);
      r = plan_remove (plan, path, NULL, "%s: do not start %s in runlevel "
                       "%c (the script in /etc/init.d stays)",
                       scripts[k].tools, scripts[k].name, runlevel);
    }
  strings_free (names);
  return r;
}

static int
disable_sysv (struct inj_guest *g, struct inj_plan *plan)
{
  char dir[PATH_MAX];
  int r = 0;

  for (const char *l = runlevels; r == 0 && *l; l++) {
    if ((r = rc_dir (g, *l, dir, sizeof dir)) == 0 && dir[0])
      r = remove_start_links (g, plan, dir, *l);
  }
  return r;
}

/* ------------------------------------------------------------------ */
/* The Hyper-V daemons */

static const char *
daemons_package (const struct inj_guest *g)
{
  if (g->distro == NULL)
    return NULL;
  for (size_t i = 0; i < ARRAY_SIZE (daemon_packages); i++)
    if (strcmp (g->distro, daemon_packages[i].distro) == 0 &&
        g->major >= daemon_packages[i].min &&
        g->major <= daemon_packages[i].max)
      return daemon_packages[i].package;
  return NULL;
}

static int
recommend_daemons (struct inj_guest *g, struct inj_plan *plan)
{
  const char *package;
  int r = 0;

  for (size_t i = 0; r == 0 && i < ARRAY_SIZE (daemon_paths); i++)
    r = g->fs.exists (g->fs.ctx, daemon_paths[i]);
  if (r != 0)
    return r == 1 ? 0 : -1;
  if ((package = daemons_package (g)) != NULL)
    return plan_note (plan, INJ_NOTE_RECOMMEND,
                      "install %s in the guest: the Hyper-V daemons (KVP, "
                      "VSS) let Hyper-V show its addresses and take "
                      "consistent backups", package);
  if (g->distro == NULL || strcmp (g->distro, "unknown") == 0)
    return plan_note (plan, INJ_NOTE_RECOMMEND,
                      "install the distribution's Hyper-V daemons "
                      "(hv_kvp_daemon, hv_vss_daemon) in the guest");
  return plan_note (plan, INJ_NOTE_RECOMMEND,
                    "install the Hyper-V daemons (hv_kvp_daemon, "
                    "hv_vss_daemon) in the guest; hvconvert knows no "
                    "package of %s %d that has them", g->distro, g->major);
}

int
linux_plan_tools (struct inj_guest *g, const struct inj_opts *o,
                  struct inj_plan *plan)
{
  int r = 0;

  for (size_t i = 0; r == 0 && i < ARRAY_SIZE (units); i++)
    r = mask_unit (g, plan, &units[i]);
  if (r == 0)
    r = disable_sysv (g, plan);
  if (r == 0)
    r = recommend_daemons (g, plan);
  return r;
}
