/* The boot disk's drivers: avoiding 0x7B INACCESSIBLE_BOOT_DEVICE.
 *
 * Windows starts only the drivers whose service says Start=0 before it
 * can read its disk, and (up to Windows 7/2008 R2) binds a boot device
 * it has never seen through the CriticalDeviceDatabase: hardware ID ->
 * service + class.  Windows 8/2012 and later bind through
 * SYSTEM\DriverDatabase instead, where the in-box Hyper-V drivers are
 * already indexed, so there the Start values suffice.  See GUESTS.md
 * B.1, B.2.
 *
 * The Start=0 set is Azure Site Recovery's "hydration" set (atapi,
 * intelide, storflt, vmbus, storvsc) plus pciide, the generic PCI IDE
 * driver.  Hyper-V generation 1 boots from a PIIX4 IDE controller
 * (intelide + atapi, storflt moving the I/O onto VMBus once vmbus runs);
 * generation 2 from the synthetic SCSI controller (vmbus + storvsc).
 */
#include <config.h>

#include <stdio.h>

#include "windows-internal.h"

/* Device classes of the CriticalDeviceDatabase entries. */
#define CLASS_HDC      "{4D36E96A-E325-11CE-BFC1-08002BE10318}"
#define CLASS_DISK     "{4D36E967-E325-11CE-BFC1-08002BE10318}"
#define CLASS_SYSTEM   "{4D36E97D-E325-11CE-BFC1-08002BE10318}"
#define CLASS_SCSI     "{4D36E97B-E325-11CE-BFC1-08002BE10318}"

/* A service made boot-start, and what its absence means. */
struct boot_service {
  const char *name;
  const char *role;
  enum inj_note_level missing;   /* INFO: optional on this Windows */
};

/* Vista/2008 and later. */
static const struct boot_service hyperv_services[] = {
  { "vmbus", "the Hyper-V VMBus root", INJ_NOTE_WARN },
  { "storvsc", "the Hyper-V synthetic SCSI controller, the generation 2 "
    "boot disk", INJ_NOTE_WARN },
  { "storflt", "the Hyper-V filter that moves generation 1 IDE I/O onto "
    "VMBus", INJ_NOTE_INFO },
  { "atapi", "the IDE channels of the generation 1 boot disk",
    INJ_NOTE_WARN },
  { "intelide", "the Intel PIIX IDE controller of generation 1",
    INJ_NOTE_WARN },
  { "pciide", "the generic PCI IDE controller", INJ_NOTE_INFO },
};

/* XP/2003 (mergeide, KB314082): the services are created when missing
 * but their driver file is there. */
struct legacy_service {
  const char *name;
  const char *group;
  const char *role;
};

static const struct legacy_service legacy_services[] = {
  { "atapi", "SCSI miniport", "the IDE channels of the boot disk" },
  { "intelide", "System Bus Extender", "the Intel PIIX IDE controller" },
  { "pciide", "System Bus Extender", "the generic PCI IDE controller" },
};

/* CriticalDeviceDatabase entries: Control\CriticalDeviceDatabase\<hwid>
 * (the hardware ID with "\" as "#") gets Service and ClassGUID. */
struct cdd_entry {
  const char *hwid;
  const char *service;
  const char *class_guid;
  const char *device;
};

static const struct cdd_entry cdd_ide[] = {
  { "pci#ven_8086&dev_7111", "intelide", CLASS_HDC,
    "the PIIX4 IDE controller of Hyper-V generation 1, Virtual PC and "
    "Virtual Server" },
  { "pci#ven_8086&dev_7010", "intelide", CLASS_HDC,
    "the PIIX3 IDE controller of QEMU's i440fx (the verify machine)" },
  { "primary_ide_channel", "atapi", CLASS_HDC, "the primary IDE channel" },
  { "secondary_ide_channel", "atapi", CLASS_HDC,
    "the secondary IDE channel" },
  { "*pnp0600", "atapi", CLASS_HDC, "a standard IDE channel" },
  { "pci#cc_0101", "pciide", CLASS_HDC, "any PCI IDE controller" },
  { "gendisk", "disk", CLASS_DISK, "a disk" },
};

/* mergeide's other Intel IDE controllers, for XP/2003 images moved
 * from physical machines. */
static const struct cdd_entry cdd_mergeide[] = {
  { "pci#ven_8086&dev_1222", "intelide", CLASS_HDC, "Intel 82092AA IDE" },
  { "pci#ven_8086&dev_1230", "intelide", CLASS_HDC, "Intel PIIX IDE" },
  { "pci#ven_8086&dev_2411", "intelide", CLASS_HDC, "Intel ICH IDE" },
  { "pci#ven_8086&dev_2421", "intelide", CLASS_HDC, "Intel ICH0 IDE" },
  { "pci#ven_8086&dev_7199", "intelide", CLASS_HDC, "Intel PIIX4 IDE "
    "(440MX)" },
};

/* The VMBus devices, for Vista/2008 and 7/2008 R2 with their in-box
 * drivers (third-party source, GUESTS.md B.2: verify on a real hive). */
static const struct cdd_entry cdd_vmbus[] = {
  { "acpi#vmbus", "vmbus", CLASS_SYSTEM, "the VMBus (ACPI\\VMBus)" },
  { "vmbus#{ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}", "storvsc", CLASS_SCSI,
    "the synthetic SCSI controller" },
};

/* ------------------------------------------------------------------ */

/* 1 the service key exists, 0 not, -1. */
static int
have_service (struct win *w, const char *name)
{
  char path[128];
  hive_node_h node;

  snprintf (path, sizeof path, "%s\\Services\\%s", w->ccs, name);
  return win_node (&w->system, path, &node);
}

static int
set_start (struct win *w, const char *name, uint32_t start,
           const char *why)
{
  char path[128];

  snprintf (path, sizeof path, "%s\\Services\\%s", w->ccs, name);
  return win_set_dword (&w->system, path, "Start", start, why);
}

/* Windows 8 and later: a StartOverride subkey overrides Start. */
static int
clear_start_override (struct win *w, const char *name)
{
  char path[160];

  snprintf (path, sizeof path, "%s\\Services\\%s\\StartOverride", w->ccs,
            name);
  return win_delete_key (&w->system, path, "it would override Start=0");
}

static int
hyperv_service (struct win *w, const struct boot_service *s)
{
  CLEANUP_FREE char *why = NULL;
  int r = have_service (w, s->name);

  if (r == -1)
    return -1;
  if (r == 0)
    return plan_note (w->plan, s->missing, "SYSTEM\\%s\\Services\\%s is "
                      "missing: %s (%s.sys) is not installed in this "
                      "Windows%s", w->ccs, s->name, s->role, s->name,
                      s->missing == INJ_NOTE_WARN ? "" : " (optional)");
  if (asprintf (&why, "boot start: %s", s->role) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", s->name);
    return -1;
  }
  if (set_start (w, s->name, 0, why) == -1)
    return -1;
  return clear_start_override (w, s->name);
}

/* Write the CDD entries of TABLE whose service is installed. */
static int
cdd_entries (struct win *w, const struct cdd_entry *table, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const struct cdd_entry *e = &table[i];
    char path[256], why[256];
    int r = have_service (w, e->service);

    if (r == -1)
      return -1;
    if (r == 0) {
      if (plan_note (w->plan, INJ_NOTE_INFO, "no CriticalDeviceDatabase "
                     "entry for %s: service %s is not installed",
                     e->hwid, e->service) == -1)
        return -1;
      continue;
    }
    snprintf (path, sizeof path, "%s\\Control\\CriticalDeviceDatabase\\%s",
              w->ccs, e->hwid);
    snprintf (why, sizeof why, "%s binds to %s at boot", e->device,
              e->service);
    if (win_set_sz (&w->system, path, "Service", e->service, why) == -1 ||
        win_set_sz (&w->system, path, "ClassGUID", e->class_guid,
                    why) == -1)
      return -1;
  }
  return 0;
}

/* Windows 8/2012 and later. */
static int
driver_database (struct win *w)
{
  hive_node_h node;
  int r = win_node (&w->system, "DriverDatabase", &node);

  if (r == -1)
    return -1;
  if (r == 0)
    return plan_note (w->plan, INJ_NOTE_WARN, "Windows %d.%d has no "
                      "SYSTEM\\DriverDatabase: the boot devices of Hyper-V "
                      "may not be bound at boot", w->g->major, w->g->minor);
  return plan_note (w->plan, INJ_NOTE_INFO, "Windows %d.%d binds boot "
                    "devices through SYSTEM\\DriverDatabase, where its "
                    "in-box Hyper-V drivers are indexed: boot-start "
                    "services suffice, no CriticalDeviceDatabase entries",
                    w->g->major, w->g->minor);
}

/* A stop code stays on the screen instead of a reboot loop. */
static int
no_auto_reboot (struct win *w)
{
  char path[128];

  snprintf (path, sizeof path, "%s\\Control\\CrashControl", w->ccs);
  return win_set_dword (&w->system, path, "AutoReboot", 0,
                        "a stop error stays on the screen instead of a "
                        "reboot loop");
}

int
win_boot_drivers (struct win *w)
{
  bool pre8 = w->g->major == 6 && w->g->minor < 2;

  for (size_t i = 0; i < ARRAY_SIZE (hyperv_services); i++)
    if (hyperv_service (w, &hyperv_services[i]) == -1)
      return -1;
  if (!pre8)
    return driver_database (w) == -1 ? -1 : no_auto_reboot (w);
  if (cdd_entries (w, cdd_ide, ARRAY_SIZE (cdd_ide)) == -1 ||
      cdd_entries (w, cdd_vmbus, ARRAY_SIZE (cdd_vmbus)) == -1)
    return -1;
  return no_auto_reboot (w);
}

/* ------------------------------------------------------------------ */

/* 1 the driver file system32\drivers\NAME.sys exists, 0 not, -1. */
static int
have_driver_file (struct win *w, const char *name)
{
  CLEANUP_FREE char *path = NULL, *found = NULL;

  if (asprintf (&path, "%s/system32/drivers/%s.sys", w->sysroot, name)
      == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", name);
    return -1;
  }
  return win_resolve (&w->g->fs, path, &found);
}

/* Create the service key of S as mergeide does. */
static int
create_legacy_service (struct win *w, const struct legacy_service *s)
{
  char path[128], image[128], why[160];
  struct win_hive *hv = &w->system;

  snprintf (path, sizeof path, "%s\\Services\\%s", w->ccs, s->name);
  snprintf (image, sizeof image, "system32\\DRIVERS\\%s.sys", s->name);
  snprintf (why, sizeof why, "new boot driver service: %s", s->role);
  if (win_set_dword (hv, path, "Type", 1, why) == -1 ||
      win_set_dword (hv, path, "Start", 0, why) == -1 ||
      win_set_dword (hv, path, "ErrorControl", 1, why) == -1 ||
      win_set_sz (hv, path, "Group", s->group, why) == -1 ||
      win_set_expand_sz (hv, path, "ImagePath", image, why) == -1)
    return -1;
  return 0;
}

static int
legacy_service (struct win *w, const struct legacy_service *s)
{
  char why[160];
  int r = have_service (w, s->name);

  if (r == 1) {
    snprintf (why, sizeof why, "boot start: %s", s->role);
    return set_start (w, s->name, 0, why);
  }
  if (r == -1 || (r = have_driver_file (w, s->name)) == -1)
    return -1;
  if (r == 1)
    return create_legacy_service (w, s);
  return plan_note (w->plan, INJ_NOTE_WARN, "%s.sys (%s) is not in "
                    "%s/system32/drivers and has no service: extract it "
                    "from %s/Driver Cache/i386/driver.cab (or sp*.cab) "
                    "before converting, or the IDE boot disk may stop with "
                    "0x7B", s->name, s->role, w->sysroot, w->sysroot);
}

int
win_boot_legacy (struct win *w, bool have_ics)
{
  int r;

  for (size_t i = 0; i < ARRAY_SIZE (legacy_services); i++)
    if (legacy_service (w, &legacy_services[i]) == -1)
      return -1;
  if ((r = have_driver_file (w, "pciidex")) == -1)
    return -1;
  if (r == 0 &&
      plan_note (w->plan, INJ_NOTE_WARN, "pciidex.sys, the library of the "
                 "IDE controller drivers, is not in %s/system32/drivers",
                 w->sysroot) == -1)
    return -1;
  if (cdd_entries (w, cdd_ide, ARRAY_SIZE (cdd_ide)) == -1 ||
      cdd_entries (w, cdd_mergeide, ARRAY_SIZE (cdd_mergeide)) == -1 ||
      no_auto_reboot (w) == -1)
    return -1;
  if (have_ics)
    return plan_note (w->plan, INJ_NOTE_INFO, "the VMBus drivers come "
                      "with the integration services at first logon; "
                      "until then the machine runs on emulated devices "
                      "(IDE disk, legacy network adapter)");
  return 0;
}
