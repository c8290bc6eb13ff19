/* Machine profiles: a `struct vm` and a profile become one QEMU command
 * line, built as an argv array.
 *
 * Hyper-V's emulated hardware and what each profile gives for it:
 *
 *   Hyper-V (generation 1)          gen1 in QEMU
 *   Intel 440BX chipset             -machine pc (i440FX + PIIX3)
 *   two IDE channels, 2 devices     piix3-ide buses ide.0, ide.1, unit 0/1
 *   Adaptec 2940 SCSI               lsi53c895a (QEMU has no aic7xxx)
 *   Intel/DEC 21140 legacy NIC      tulip (the 21143 of the same family)
 *   PS/2 keyboard and mouse         i8042 (built into -machine pc)
 *   S3 Trio 32/64                   std VGA
 *   two serial ports                isa-serial COM1, COM2
 *   floppy controller               isa-fdc (built into -machine pc)
 *
 * gen1-enlightened adds the Hyper-V CPUID/MSR enlightenments and QEMU's
 * vmbus-bridge, which only KVM provides; gen2 is q35 with OVMF (UEFI),
 * disks on its AHCI ports.  vmport=off hides QEMU's VMware backdoor,
 * which no Hyper-V guest has.
 */
#include <config.h>

#include <ctype.h>
#include <stdio.h>

#include "hypervisor.h"

const char *const hv_profile_names[] = {
  [HV_PROFILE_GEN1] = "gen1",
  [HV_PROFILE_GEN1_ENLIGHTENED] = "gen1-enlightened",
  [HV_PROFILE_GEN2] = "gen2",
  NULL,
};

/* Hyper-V's enlightenments as QEMU names them; the vendor id is what
 * Hyper-V reports in CPUID 0x40000000 ("Microsoft Hv", 12 bytes). */
static const char enlightenments[] =
  "hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-synic,hv-stimer,"
  "hv-time,hv-vendor-id=Microsoft Hv";

/* QEMU names of the formats the importers detect; the others (qcow2,
 * vmdk, vdi, vhdx) are spelt the same. */
static const char *const format_map[][2] = {
  { "vhd", "vpc" },
  { "raw", "raw" },
};

const char *
hv_profile_name (enum hv_profile p)
{
  return (size_t) p < ARRAY_SIZE (hv_profile_names) - 1
    ? hv_profile_names[p] : "?";
}

const char *
hv_qemu_format (const char *importer_format)
{
  for (size_t i = 0; i < ARRAY_SIZE (format_map); i++)
    if (strcmp (importer_format, format_map[i][0]) == 0)
      return format_map[i][1];
  return importer_format;
}

int
hv_profile_check (enum hv_profile profile, enum hv_accel accel)
{
  const char *code, *vars;

  if (profile == HV_PROFILE_GEN1_ENLIGHTENED && accel != HV_ACCEL_KVM) {
    hv_error (HV_E_UNSUPPORTED, "the gen1-enlightened profile needs a "
              "working KVM (Hyper-V enlightenments and the VMBus bridge are "
              "KVM features) and this host runs QEMU with TCG (see "
              "'hvconvert doctor'); use --profile gen1");
    return -1;
  }
  if (profile == HV_PROFILE_GEN2 && hv_ovmf_paths (&code, &vars) == -1) {
    hv_error (HV_E_UNSUPPORTED, "the gen2 profile needs UEFI firmware: "
              "install the ovmf package");
    return -1;
  }
  return 0;
}

static void
add_machine (const struct hv_machine *m, struct hv_argv *a)
{
  const bool kvm = m->accel == HV_ACCEL_KVM;

  hv_argv_add (a, "-machine");
  hv_argv_addf (a, "%s,accel=%s,vmport=off",
                m->profile == HV_PROFILE_GEN2 ? "q35" : "pc",
                hv_accel_name (m->accel));
  if (kvm) {
    hv_argv_add (a, "-cpu");
    hv_argv_addf (a, "host%s%s",
                  m->profile == HV_PROFILE_GEN1_ENLIGHTENED ? "," : "",
                  m->profile == HV_PROFILE_GEN1_ENLIGHTENED
                  ? enlightenments : "");
  }
  hv_argv_add (a, "-m");
  hv_argv_addf (a, "%llu", (unsigned long long) MAX (m->vm->memory / MiB,
                                                    16));
  hv_argv_add (a, "-smp");
  hv_argv_addf (a, "%u", MAX (m->vm->vcpus, 1u));
  hv_argv_add (a, "-vga");
  hv_argv_add (a, "std");
  if (m->profile == HV_PROFILE_GEN1_ENLIGHTENED) {
    hv_argv_add (a, "-device");
    hv_argv_add (a, "vmbus-bridge");
  }
}

static void
add_firmware (const struct hv_machine *m, struct hv_argv *a)
{
  const char *code, *vars;

  if (m->profile == HV_PROFILE_GEN2 && hv_ovmf_paths (&code, &vars) == 0) {
    hv_argv_add (a, "-drive");
    hv_argv_add_opt (a, "if=pflash,format=raw,unit=0,readonly=on,file=",
                     code, "");
    hv_argv_add (a, "-drive");
    hv_argv_add_opt (a, "if=pflash,format=raw,unit=1,file=", m->ovmf_vars,
                     "");
  }
  if (m->firmware_log) {
    /* SeaBIOS (and Debian's OVMF) write their debug log to port 0x402:
     * "No bootable device." and the boot attempts are there. */
    hv_argv_add (a, "-chardev");
    hv_argv_add_opt (a, "file,id=fwlog,path=", m->firmware_log, "");
    hv_argv_add (a, "-device");
    hv_argv_add (a, "isa-debugcon,iobase=0x402,chardev=fwlog");
  }
}

/* Two serial ports, like Hyper-V: COM1 the console, COM2 the report. */
static void
add_serial (const struct hv_machine *m, struct hv_argv *a)
{
  hv_argv_add (a, "-chardev");
  if (m->console)
    hv_argv_add_opt (a, "file,id=com1,path=", m->console, "");
  else
    hv_argv_add (a, "stdio,id=com1,mux=on,signal=off");
  hv_argv_add (a, "-serial");
  hv_argv_add (a, "chardev:com1");
  if (m->console == NULL) {
    /* The monitor on the same terminal: Ctrl-A C, Ctrl-A X quits. */
    hv_argv_add (a, "-mon");
    hv_argv_add (a, "chardev=com1,mode=readline");
  }
  hv_argv_add (a, "-chardev");
  if (m->report)
    hv_argv_add_opt (a, "file,id=com2,path=", m->report, "");
  else
    hv_argv_add (a, "null,id=com2");
  hv_argv_add (a, "-serial");
  hv_argv_add (a, "chardev:com2");
}

/* -blockdev in JSON: any file name goes through quoted. */
static void
add_blockdev (struct hv_argv *a, size_t i, const char *file,
              const char *format, bool readonly)
{
  char *q = NULL;
  size_t qlen = 0;

  if (json_quote (&q, &qlen, file) == -1) {
    a->failed = true;
    return;
  }
  hv_argv_add (a, "-blockdev");
  hv_argv_addf (a, "{\"driver\":\"%s\",\"node-name\":\"disk%zu\","
                "\"read-only\":%s,\"file\":{\"driver\":\"file\","
                "\"filename\":%s,\"read-only\":%s}}", format, i,
                readonly ? "true" : "false", q, readonly ? "true" : "false");
  free (q);
}

/* The device of disk I at its controller and slot. */
static void
add_disk_device (const struct hv_machine *m, struct hv_argv *a, size_t i,
                 const struct vm_disk *d)
{
  const char *dev = d->media == VM_MEDIA_CDROM ? "ide-cd" : "ide-hd";

  hv_argv_add (a, "-device");
  if (d->bus == VM_BUS_SCSI)
    hv_argv_addf (a, "scsi-%s,drive=disk%zu,bus=scsi%u.0,scsi-id=%u,"
                  "bootindex=%zu", d->media == VM_MEDIA_CDROM ? "cd" : "hd",
                  i, d->controller, d->slot, i);
  else if (m->profile == HV_PROFILE_GEN2)
    /* q35's AHCI has six ports, one device each. */
    hv_argv_addf (a, "%s,drive=disk%zu,bus=ide.%u,bootindex=%zu", dev, i,
                  d->controller * 2 + d->slot, i);
  else
    hv_argv_addf (a, "%s,drive=disk%zu,bus=ide.%u,unit=%u,bootindex=%zu",
                  dev, i, d->controller, d->slot, i);
}

/* One lsi53c895a per SCSI controller number the disks use. */
static void
add_scsi_controllers (const struct hv_machine *m, struct hv_argv *a)
{
  unsigned seen = 0;

  for (size_t i = 0; i < m->vm->disks.len; i++) {
    const struct vm_disk *d = &m->vm->disks.ptr[i];
    if (d->bus != VM_BUS_SCSI || d->controller >= 4 ||
        (seen & (1u << d->controller)))
      continue;
    seen |= 1u << d->controller;
    hv_argv_add (a, "-device");
    hv_argv_addf (a, "lsi53c895a,id=scsi%u", d->controller);
  }
}

static int
check_disk (const struct hv_machine *m, const struct vm_disk *d)
{
  const unsigned ctrl = d->bus == VM_BUS_SCSI ? 4 :
    m->profile == HV_PROFILE_GEN2 ? 3 : 2;

  if (d->bus != VM_BUS_IDE && d->bus != VM_BUS_SCSI) {
    hv_error (HV_E_UNSUPPORTED, "%s: a %s disk: the profiles have IDE and "
              "SCSI controllers only", d->path, vm_bus_name (d->bus));
    return -1;
  }
  if (d->controller >= ctrl || d->slot >= (d->bus == VM_BUS_SCSI ? 7 : 2)) {
    hv_error (HV_E_UNSUPPORTED, "%s: no %s controller %u slot %u in the %s "
              "profile", d->path, vm_bus_name (d->bus), d->controller,
              d->slot, hv_profile_name (m->profile));
    return -1;
  }
  return 0;
}

static int
add_disks (const struct hv_machine *m, struct hv_argv *a)
{
  add_scsi_controllers (m, a);
  for (size_t i = 0; i < m->vm->disks.len; i++) {
    const struct vm_disk *d = &m->vm->disks.ptr[i];
    if (d->path == NULL || d->media == VM_MEDIA_FLOPPY)
      continue;               /* an empty drive; floppies not booted */
    if (check_disk (m, d) == -1)
      return -1;
    add_blockdev (a, i, m->drives[i], m->drive_formats[i],
                  m->readonly_drives || d->media == VM_MEDIA_CDROM);
    add_disk_device (m, a, i, d);
  }
  return 0;
}

/* "00:15:5d:01:02:03": six pairs of hex digits. */
static bool
valid_mac (const char *mac)
{
  for (int i = 0; i < 17; i++) {
    const bool colon = i % 3 == 2;
    if (colon ? mac[i] != ':' : !isxdigit ((unsigned char) mac[i]))
      return false;
  }
  return mac[17] == '\0';
}

/* Legacy NICs on user networking that reaches nothing (restrict=on):
 * the guest sees its adapter, nothing leaves the host. */
static void
add_nics (const struct hv_machine *m, struct hv_argv *a)
{
  for (size_t i = 0; i < m->vm->nics.len; i++) {
    const struct vm_nic *n = &m->vm->nics.ptr[i];
    hv_argv_add (a, "-netdev");
    hv_argv_addf (a, "user,id=net%zu,restrict=on", i);
    const bool mac = n->mac && valid_mac (n->mac);
    if (n->mac && !mac)
      hv_warning (HV_E_FORMAT, "NIC %zu: '%s' is not a MAC address; QEMU "
                  "makes one up", i, n->mac);
    hv_argv_add (a, "-device");
    hv_argv_addf (a, "tulip,netdev=net%zu%s%s", i, mac ? ",mac=" : "",
                  mac ? n->mac : "");
  }
}

static void
add_control (const struct hv_machine *m, struct hv_argv *a)
{
  if (m->qmp_socket) {
    hv_argv_add (a, "-chardev");
    hv_argv_add_opt (a, "socket,id=qmp,server=on,wait=off,path=",
                     m->qmp_socket, "");
    hv_argv_add (a, "-mon");
    hv_argv_add (a, "chardev=qmp,mode=control");
  }
  if (m->stop_on_reset) {
    hv_argv_add (a, "-no-reboot");
    hv_argv_add (a, "-no-shutdown");
  }
  hv_argv_add (a, "-display");
  hv_argv_add (a, "none");
  if (m->vnc) {
    hv_argv_add (a, "-vnc");
    hv_argv_add (a, m->vnc);
  }
}

int
hv_machine_argv (const struct hv_machine *m, struct hv_argv *a)
{
  if (hv_profile_check (m->profile, m->accel) == -1)
    return -1;
  hv_argv_add (a, hv_qemu_binary ());
  hv_argv_add (a, "-nodefaults");
  hv_argv_add (a, "-no-user-config");
  hv_argv_add (a, "-name");
  hv_argv_add_opt (a, "guest=", m->vm->name ? m->vm->name : "vm", "");
  add_machine (m, a);
  add_firmware (m, a);
  add_serial (m, a);
  if (add_disks (m, a) == -1)
    return -1;
  add_nics (m, a);
  add_control (m, a);
  return hv_argv_end (a);
}
