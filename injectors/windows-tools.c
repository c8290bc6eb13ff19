/* Other hypervisors' guest tools.
 *
 * Their drivers look for devices Hyper-V does not have; a storage or
 * input filter among them breaks the whole stack it filters (0x7B, no
 * mouse or keyboard).  So each one found is disabled (Start=4) and
 * removed from every Control\Class\{...}\UpperFilters and LowerFilters
 * list, offline; then the tools' own uninstaller runs at the first
 * logon (a RunOnce value of SOFTWARE) to remove the rest.  See
 * GUESTS.md B.3.
 */
#include <config.h>

#include <stdio.h>
#include <strings.h>

#include "windows-internal.h"

struct foreign_service {
  const char *name;
  const char *vendor;
};

#define VPC "Virtual PC/Virtual Server Additions"
#define VMWARE "VMware Tools"
#define VBOX "VirtualBox Guest Additions"
#define XEN "Xen PV drivers"
#define PRL "Parallels Tools"

/* pvscsi, vmscsi and xenvbd may be the source's boot disk driver:
 * after conversion the boot disk is on Hyper-V's controllers, so they
 * go too.  Parallels: virt-v2v's list. */
static const struct foreign_service foreign_services[] = {
  { "vpcbus", VPC }, { "vpc-s3", VPC }, { "vpcuhub", VPC },
  { "msvmmouf", VPC }, { "mrxvpc", VPC }, { "vmsrvc", VPC },
  { "1-vmsrvc", VPC }, { "vpcnfltr", VPC },
  { "VMTools", VMWARE }, { "vmci", VMWARE }, { "vmhgfs", VMWARE },
  { "vmmouse", VMWARE }, { "vmusbmouse", VMWARE }, { "vmx_svga", VMWARE },
  { "vmxnet", VMWARE }, { "vmxnet3ndis6", VMWARE }, { "pvscsi", VMWARE },
  { "vmscsi", VMWARE }, { "VMMEMCTL", VMWARE }, { "vmvss", VMWARE },
  { "vmrawdsk", VMWARE }, { "vmdebug", VMWARE },
  { "VBoxGuest", VBOX }, { "VBoxMouse", VBOX }, { "VBoxSF", VBOX },
  { "VBoxVideo", VBOX }, { "VBoxService", VBOX },
  { "xenevtchn", XEN }, { "xennet", XEN }, { "xenvbd", XEN },
  { "xensvc", XEN }, { "rhelscsi", XEN },
  { "prl_boot", PRL }, { "prl_dd", PRL }, { "prl_eth5", PRL },
  { "prl_fs", PRL }, { "prl_memdev", PRL }, { "prl_mouf", PRL },
  { "prl_pv32", PRL }, { "prl_pv64", PRL }, { "prl_scsi", PRL },
  { "prl_sound", PRL }, { "prl_strg", PRL }, { "prl_tg", PRL },
  { "prl_time", PRL }, { "prl_uprof", PRL }, { "prl_va", PRL },
};

/* DisplayNames (substrings, any case) of Uninstall entries that are
 * uninstalled at first logon. */
static const char *const foreign_products[] = {
  "VMware Tools",
  "Virtual Machine Additions",
  "Virtual PC Integration Components",
  "VirtualBox Guest Additions",
};

/* Where programs register their uninstallers (64-bit Windows keeps the
 * 32-bit programs' under Wow6432Node). */
static const char *const uninstall_keys[] = {
  "Microsoft\\Windows\\CurrentVersion\\Uninstall",
  "Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
};

#define RUN_ONCE "Microsoft\\Windows\\CurrentVersion\\RunOnce"
/* Windows ignores a RunOnce command longer than this.  A real guest
 * has one or two of these products; a crafted hive gets no more. */
enum { RUN_ONCE_MAX = 260, MAX_UNINSTALLS = 16 };

static const struct foreign_service *
foreign (const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE (foreign_services); i++)
    if (strcasecmp (foreign_services[i].name, name) == 0)
      return &foreign_services[i];
  return NULL;
}

static int
disable_services (struct win *w)
{
  for (size_t i = 0; i < ARRAY_SIZE (foreign_services); i++) {
    const struct foreign_service *s = &foreign_services[i];
    char path[128], why[160];
    hive_node_h node;
    int r;

    snprintf (path, sizeof path, "%s\\Services\\%s", w->ccs, s->name);
    if ((r = win_node (&w->system, path, &node)) == -1)
      return -1;
    snprintf (why, sizeof why, "disabled: %s, for a device Hyper-V does "
              "not have", s->vendor);
    if (r == 1 && win_set_dword (&w->system, path, "Start", 4, why) == -1)
      return -1;
  }
  return 0;
}

/* LIST without the foreign names; *CHANGED if one was dropped. */
static void
drop_foreign (char **list, bool *changed)
{
  size_t o = 0;

  for (size_t i = 0; list[i]; i++) {
    if (foreign (list[i])) {
      free (list[i]);
      *changed = true;
    }
    else
      list[o++] = list[i];
  }
  list[o] = NULL;
}

/* The UpperFilters and LowerFilters of class key C (PATH). */
static int
clean_filters (struct win *w, const struct win_subkey *c, const char *path)
{
  static const char *const values[] = { "UpperFilters", "LowerFilters" };

  for (size_t i = 0; i < ARRAY_SIZE (values); i++) {
    char **list = NULL;
    bool changed = false;
    int r = win_get_multi_sz_at (&w->system, c->node, path, values[i],
                                 &list);

    if (r == 1)
      drop_foreign (list, &changed);
    if (changed)
      r = win_set_multi_sz_at (&w->system, c->node, path, values[i], list,
                               "other hypervisors' filter drivers removed");
    strings_free (list);
    if (r == -1)
      return -1;
  }
  return 0;
}

static int
clean_class_filters (struct win *w)
{
  CLEANUP_FREE char *base = NULL;
  struct win_subkey *classes;
  size_t n;
  int r;

  if (asprintf (&base, "%s\\Control\\Class", w->ccs) == -1) {
    hv_error (HV_E_NOMEM, "SYSTEM hive: %m");
    return -1;
  }
  r = win_subkeys (&w->system, base, &classes, &n);
  for (size_t i = 0; r >= 0 && i < n; i++) {
    CLEANUP_FREE char *path = NULL;

    if (asprintf (&path, "%s\\%s", base, classes[i].name) == -1) {
      hv_error (HV_E_NOMEM, "SYSTEM hive: %m");
      path = NULL;
      r = -1;
    }
    else
      r = clean_filters (w, &classes[i], path);
  }
  win_subkeys_free (classes, n);
  return r == -1 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Uninstalling at first logon. */

/* Find an MSI switch OPT ("/i") as a word of S, any case. */
static char *
find_switch (char *s, const char *opt)
{
  for (char *p = s; (p = strcasestr (p, opt)) != NULL; p++)
    if (p == s || p[-1] == ' ')
      return p;
  return NULL;
}

/* The unattended form of an uninstall command (caller frees): MsiExec
 * /I{product} becomes /X{product} /qn /norestart, as virt-v2v does; an
 * NSIS uninst.exe (VirtualBox) gets /S.  *QUIET false when we do not
 * know how to make it silent. */
static char *
unattended (const char *cmd, bool *quiet)
{
  char *s = NULL, *p;
  const char *tail = "";

  *quiet = true;
  if (strcasestr (cmd, "msiexec")) {
    if (strcasestr (cmd, "/q") == NULL)
      tail = " /qn /norestart";
  }
  else if (strcasestr (cmd, "uninst.exe"))
    tail = " /S";
  else
    *quiet = false;
  if (asprintf (&s, "%s%s", cmd, tail) == -1)
    return NULL;
  if (strcasestr (cmd, "msiexec") && (p = find_switch (s, "/i")) != NULL)
    p[1] = 'X';
  return s;
}

/* Is the program of Uninstall entry E (PATH) one to remove?  Its name
 * in *NAME (caller frees) if so. */
static int
foreign_product (struct win *w, const struct win_subkey *e,
                 const char *path, char **name)
{
  int r = win_get_sz_at (&w->software, e->node, path, "DisplayName", name);

  if (r <= 0)
    return r;
  for (size_t i = 0; i < ARRAY_SIZE (foreign_products); i++)
    if (strcasestr (*name, foreign_products[i]))
      return 1;
  free (*name);
  *name = NULL;
  return 0;
}

/* Schedule the uninstaller of Uninstall entry E (PATH) as number *N. */
static int
schedule_uninstall (struct win *w, const struct win_subkey *e,
                    const char *path, unsigned *n)
{
  CLEANUP_FREE char *name = NULL, *cmd = NULL, *run = NULL, *why = NULL;
  struct win_hive *hv = &w->software;
  char value[64];
  bool quiet;
  int r = foreign_product (w, e, path, &name);

  if (r <= 0)
    return r;
  if ((r = win_get_sz_at (hv, e->node, path, "QuietUninstallString", &cmd))
      == 0)
    r = win_get_sz_at (hv, e->node, path, "UninstallString", &cmd);
  if (r == -1)
    return -1;
  if (r == 0)
    return plan_note (w->plan, INJ_NOTE_RECOMMEND, "%s has no uninstall "
                      "command in SOFTWARE\\%s: remove it by hand after "
                      "the first boot", name, path);
  if ((run = unattended (cmd, &quiet)) == NULL ||
      asprintf (&why, "uninstall %s at first logon", name) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", path);
    return -1;
  }
  if (*n >= MAX_UNINSTALLS)
    return plan_note (w->plan, INJ_NOTE_RECOMMEND, "%s: more than %d "
                      "other hypervisors' tools registered; remove this "
                      "one by hand after the first boot", name,
                      MAX_UNINSTALLS);
  if (strlen (run) >= RUN_ONCE_MAX)
    return plan_note (w->plan, INJ_NOTE_RECOMMEND, "%s: its uninstall "
                      "command is too long for RunOnce: remove it by hand "
                      "after the first boot (%s)", name, run);
  snprintf (value, sizeof value, "hvconvert-uninstall-%u", ++*n);
  if (win_run_once (w, value, run, why) == -1)
    return -1;
  return plan_note (w->plan, quiet ? INJ_NOTE_INFO : INJ_NOTE_RECOMMEND,
                    "%s is uninstalled when an administrator first logs "
                    "on%s", name, quiet ? "" : "; its uninstaller may ask "
                    "questions");
}

static int
uninstall_products (struct win *w)
{
  unsigned n = 0;

  for (size_t i = 0; i < ARRAY_SIZE (uninstall_keys); i++) {
    struct win_subkey *keys;
    size_t nkeys;
    int r = win_subkeys (&w->software, uninstall_keys[i], &keys, &nkeys);

    for (size_t j = 0; r >= 0 && j < nkeys; j++) {
      CLEANUP_FREE char *path = NULL;

      if (asprintf (&path, "%s\\%s", uninstall_keys[i], keys[j].name)
          == -1) {
        hv_error (HV_E_NOMEM, "SOFTWARE hive: %m");
        path = NULL;
        r = -1;
      }
      else
        r = schedule_uninstall (w, &keys[j], path, &n);
    }
    win_subkeys_free (keys, nkeys);
    if (r == -1)
      return -1;
  }
  return 0;
}

int
win_run_once (struct win *w, const char *name, const char *command,
              const char *why)
{
  return win_set_sz (&w->software, RUN_ONCE, name, command, why);
}

int
win_remove_foreign_tools (struct win *w)
{
  if (disable_services (w) == -1 || clean_class_filters (w) == -1 ||
      uninstall_products (w) == -1)
    return -1;
  return 0;
}
