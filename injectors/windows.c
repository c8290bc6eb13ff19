/* Windows: what a machine needs to boot on Hyper-V, planned from its
 * registry.
 *
 * Order: find the systemroot; refuse a hibernated Windows (its NTFS
 * state lives in memory and our changes would be lost or corrupt it);
 * download and open SYSTEM and SOFTWARE; resolve the current control
 * set; then the parts (windows-internal.h): other hypervisors' tools
 * out, the boot drivers in (Vista and later: in-box Hyper-V drivers;
 * XP/2003: IDE, and the integration services from an ISO); finally
 * each hive that changed is written to a new host file and its upload
 * planned.  The facts are in GUESTS.md part B.
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>

#include "windows-internal.h"

/* First bytes of hiberfil.sys while a memory image waits to be resumed:
 * "hibr" (hibernated, XP-7), "HIBR" (hibernated or fast startup, 8 and
 * later), "wake"/"WAKE" (a resume was started but not finished).  A
 * file of zeros, or "RSTR" being restored, is not listed: Windows
 * zeroes the header once it has resumed. */
static const char *const hibernated[] = { "hibr", "HIBR", "wake", "WAKE" };

static int
check_hibernation (struct win *w)
{
  struct inj_fs *fs = &w->g->fs;
  CLEANUP_FREE char *path = NULL, *head = NULL;
  size_t len = 0;
  int r = win_resolve (fs, "/hiberfil.sys", &path);

  if (r <= 0)
    return r;
  if (fs->pread == NULL) {
    hv_error (HV_E_INTERNAL, "%s: cannot read its head (no pread in this "
              "guest access)", path);
    return -1;
  }
  if ((head = fs->pread (fs->ctx, path, 4, 0, &len)) == NULL)
    return -1;
  for (size_t i = 0; len == 4 && i < ARRAY_SIZE (hibernated); i++)
    if (memcmp (head, hibernated[i], 4) == 0) {
      hv_error (HV_E_UNSUPPORTED, "Windows is hibernated or was shut down with "
                "fast startup (%s starts with \"%s\"): its disk state is in "
                "that memory image and would be lost; start Windows, shut "
                "it down fully (shutdown /s /t 0, or turn fast startup "
                "off), then convert again", path, hibernated[i]);
      return -1;
    }
  return 0;
}

/* Find and open hive NAME of system32/config. */
static int
open_hive (struct win *w, struct win_hive *hv, const char *name)
{
  CLEANUP_FREE char *want = NULL, *path = NULL;
  int r;

  if (asprintf (&want, "%s/system32/config/%s", w->sysroot, name) == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  if ((r = win_resolve (&w->g->fs, want, &path)) == 0)
    hv_error (HV_E_FORMAT, "Windows in %s has no %s hive (%s): its "
              "registry cannot be changed", w->sysroot, name, want);
  if (r <= 0)
    return -1;
  return win_hive_open (w, hv, name, path);
}

/* SYSTEM\Select\Current names the control set Windows boots with. */
static int
current_control_set (struct win *w)
{
  uint32_t n;
  hive_node_h node;
  int r = win_get_dword (&w->system, "Select", "Current", &n);

  if (r == -1)
    return -1;
  if (r == 0 || n == 0 || n > 999) {
    hv_error (HV_E_FORMAT, "SYSTEM hive %s: no valid Select\\Current",
              w->system.guest_path);
    return -1;
  }
  snprintf (w->ccs, sizeof w->ccs, "ControlSet%03" PRIu32, n);
  if ((r = win_node (&w->system, w->ccs, &node)) == 0)
    hv_error (HV_E_FORMAT, "SYSTEM hive %s: Select\\Current is %" PRIu32
              " but there is no %s", w->system.guest_path, n, w->ccs);
  return r == 1 ? 0 : -1;
}

/* The drive of SystemRoot ("C:"), for commands run at first logon. */
static int
system_drive (struct win *w)
{
  CLEANUP_FREE char *root = NULL;
  int r = win_get_sz (&w->software, "Microsoft\\Windows NT\\CurrentVersion",
                      "SystemRoot", &root);

  strcpy (w->drive, "C:");
  if (r == 1 && isalpha ((unsigned char) root[0]) && root[1] == ':')
    w->drive[0] = toupper ((unsigned char) root[0]);
  return r == -1 ? -1 : 0;
}

static int
check_generation (struct win *w)
{
  const struct inj_guest *g = w->g;
  bool x64 = g->arch && strcmp (g->arch, "x86_64") == 0;
  bool win8 = g->major > 6 || (g->major == 6 && g->minor >= 2);

  if (w->o->profile != INJ_GEN2 || (x64 && win8))
    return 0;
  return plan_note (w->plan, INJ_NOTE_WARN, "generation 2 needs 64-bit "
                    "Windows 8/2012 or later; this is Windows %d.%d %s: "
                    "convert it as generation 1", g->major, g->minor,
                    g->arch ? g->arch : "(unknown architecture)");
}

/* Device installation policies can keep the new controllers from
 * being installed (virt-v2v warns about them too). */
static int
check_device_policy (struct win *w)
{
  static const char *const deny[] = {
    "DenyUnspecified", "DenyDeviceIDs", "DenyDeviceClasses",
  };
  const char *key = "Policies\\Microsoft\\Windows\\DeviceInstall\\"
    "Restrictions";

  for (size_t i = 0; i < ARRAY_SIZE (deny); i++) {
    uint32_t v;
    int r = win_get_dword (&w->software, key, deny[i], &v);

    if (r == -1)
      return -1;
    if (r == 1 && v != 0)
      return plan_note (w->plan, INJ_NOTE_WARN, "a device installation "
                        "policy (SOFTWARE\\%s\\%s) may keep Windows from "
                        "installing Hyper-V's devices", key, deny[i]);
  }
  return 0;
}

/* Is the VMBus driver installed (Vista/2008 may lack it)? */
static int
have_vmbus (struct win *w)
{
  char path[64];
  hive_node_h node;

  snprintf (path, sizeof path, "%s\\Services\\vmbus", w->ccs);
  return win_node (&w->system, path, &node);
}

/* The parts for this version. */
static int
enlighten (struct win *w)
{
  int r;

  if (check_generation (w) == -1 || check_device_policy (w) == -1 ||
      win_remove_foreign_tools (w) == -1)
    return -1;
  if (w->g->major == 5) {
    if ((r = win_integration_services (w)) == -1)
      return -1;
    return win_boot_legacy (w, r == 1);
  }
  if (win_boot_drivers (w) == -1 || (r = have_vmbus (w)) == -1)
    return -1;
  if (r == 0 && w->g->major == 6 && w->g->minor == 0)
    return win_integration_services (w) == -1 ? -1 : 0;
  return 0;
}

static int
check_version (const struct inj_guest *g)
{
  if (g->major >= 5)
    return 0;
  hv_error (HV_E_UNSUPPORTED, "Windows %d.%d (%s): only Windows 2000/XP "
            "and later can be enlightened", g->major, g->minor,
            g->product ? g->product : "unknown product");
  return -1;
}

int
inject_windows (struct inj_guest *g, const struct inj_opts *o,
                struct inj_plan *plan)
{
  struct win w = { .g = g, .o = o, .plan = plan };
  const char *root = g->systemroot ? g->systemroot : "/Windows";
  int r = -1;

  if (check_version (g) == -1)
    return -1;
  switch (win_resolve (&g->fs, root, &w.sysroot)) {
  case 0:
    hv_error (HV_E_FORMAT, "Windows systemroot %s not found", root);
    /* fallthrough */
  case -1:
    return -1;
  }
  if (check_hibernation (&w) == 0 &&
      open_hive (&w, &w.system, "SYSTEM") == 0 &&
      open_hive (&w, &w.software, "SOFTWARE") == 0 &&
      current_control_set (&w) == 0 && system_drive (&w) == 0 &&
      enlighten (&w) == 0 &&
      win_hive_plan (&w, &w.system, "Hyper-V boot drivers, other "
                     "hypervisors' drivers disabled") == 0 &&
      win_hive_plan (&w, &w.software, "programs run at first logon") == 0)
    r = 0;
  win_hive_close (&w.system);
  win_hive_close (&w.software);
  free (w.sysroot);
  return r;
}
