/* Where each drive goes on the Hyper-V machine.
 *
 * A generation 1 machine boots only from IDE, and a generation 2
 * machine has no IDE at all.  Machines from VMware or OVF often have
 * their disks on SCSI/SATA/NVMe, so the placement is adjusted once,
 * here, before any definition is written, and every move is a warning
 * in the report.
 */
#include <config.h>

#include "convert.h"

/* A free IDE position (channel * 2 + master/slave), or -1. */
static int
free_ide (const struct vm *vm)
{
  bool used[4] = { false };

  for (size_t i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    if (d->media != VM_MEDIA_FLOPPY && d->bus == VM_BUS_IDE &&
        d->controller < 2 && d->slot < 2)
      used[d->controller * 2 + d->slot] = true;
  }
  for (int p = 0; p < 4; p++)
    if (!used[p])
      return p;
  return -1;
}

/* Generation 1: the first hard disk (the one the source boots from)
 * moves to the first free IDE position if it is on another bus. */
static void
place_gen1 (struct vm *vm)
{
  struct vm_disk *d = NULL;
  int p;

  for (size_t i = 0; d == NULL && i < vm->disks.len; i++)
    if (vm->disks.ptr[i].media == VM_MEDIA_DISK)
      d = &vm->disks.ptr[i];
  if (d == NULL || d->bus == VM_BUS_IDE || (p = free_ide (vm)) == -1)
    return;
  vm_warn (vm, HV_E_UNSUPPORTED, "%s: disk on %s %u:%u moved to IDE %d:%d: "
           "a generation 1 machine boots from IDE", vm->name,
           vm_bus_name (d->bus), d->controller, d->slot, p / 2, p % 2);
  d->bus = VM_BUS_IDE;
  d->controller = p / 2;
  d->slot = p % 2;
}

/* Generation 2: everything on SCSI controller 0, in order. */
static void
place_gen2 (struct vm *vm)
{
  unsigned next = 0;

  for (size_t i = 0; i < vm->disks.len; i++) {
    struct vm_disk *d = &vm->disks.ptr[i];
    if (d->media == VM_MEDIA_FLOPPY)
      continue;
    if (d->bus != VM_BUS_SCSI || d->controller != 0 || d->slot != next)
      vm_warn (vm, HV_E_UNSUPPORTED, "%s: %s on %s %u:%u placed on SCSI "
               "0:%u (generation 2)", vm->name, vm_media_name (d->media),
               vm_bus_name (d->bus), d->controller, d->slot, next);
    d->bus = VM_BUS_SCSI;
    d->controller = 0;
    d->slot = next++;
  }
}

void
vm_place_for_hyperv (struct vm *vm)
{
  if (vm->firmware == VM_FIRMWARE_UEFI)
    place_gen2 (vm);
  else
    place_gen1 (vm);
}
