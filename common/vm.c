/* The VM model: construction, defaults and freeing (see common.h).
 *
 * Importers fill a model from a machine description; a bare disk gets
 * the defaults Hyper-V's New-VM would give it (1 GiB, one vCPU,
 * generation 1), with disks on the IDE channels in the order given,
 * because a generation 1 machine boots from IDE.
 */
#include <config.h>

#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>

#include "common.h"

static const char *const bus_names[] = {
  [VM_BUS_IDE] = "ide", [VM_BUS_SCSI] = "scsi",
  [VM_BUS_SATA] = "sata", [VM_BUS_NVME] = "nvme",
};
static const char *const media_names[] = {
  [VM_MEDIA_DISK] = "disk", [VM_MEDIA_CDROM] = "cdrom",
  [VM_MEDIA_FLOPPY] = "floppy",
};

const char *
vm_bus_name (enum vm_bus bus)
{
  return (size_t) bus < ARRAY_SIZE (bus_names) ? bus_names[bus] : "?";
}

const char *
vm_media_name (enum vm_media media)
{
  return (size_t) media < ARRAY_SIZE (media_names) ? media_names[media]
    : "?";
}

/* strdup that keeps NULL as NULL; *FAILED set on allocation failure. */
static char *
dup_or_null (const char *s, bool *failed)
{
  char *r;

  if (s == NULL)
    return NULL;
  r = strdup (s);
  if (r == NULL)
    *failed = true;
  return r;
}

struct vm *
vm_new (const char *name, const char *source, const char *source_format)
{
  struct vm *vm = calloc (1, sizeof *vm);
  bool failed = vm == NULL;

  if (vm) {
    vm->name = dup_or_null (name, &failed);
    vm->source = dup_or_null (source, &failed);
    vm->source_format = source_format;
    vm->memory = VM_DEFAULT_MEMORY;
    vm->vcpus = 1;
    vm->firmware = VM_FIRMWARE_BIOS;
  }
  if (failed) {
    hv_error (HV_E_NOMEM, "%s: %m", source);
    vm_free (vm);
    return NULL;
  }
  return vm;
}

static void
disk_free (struct vm_disk *d)
{
  free (d->path);
  free (d->format);
  free (d->host_drive);
  free (d->undo);
  free (d->output);
}

static void
nic_free (struct vm_nic *n)
{
  free (n->mac);
  free (n->network);
  free (n->model);
}

int
vm_add_disk (struct vm *vm, const struct vm_disk *d)
{
  struct vm_disk c = *d;
  bool failed = false;

  c.path = dup_or_null (d->path, &failed);
  c.format = dup_or_null (d->format, &failed);
  c.host_drive = dup_or_null (d->host_drive, &failed);
  c.undo = dup_or_null (d->undo, &failed);
  c.output = dup_or_null (d->output, &failed);
  if (failed || vm_disk_vector_append (&vm->disks, c) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", vm->source);
    disk_free (&c);
    return -1;
  }
  return 0;
}

int
vm_add_nic (struct vm *vm, const struct vm_nic *n)
{
  struct vm_nic c = *n;
  bool failed = false;

  c.mac = dup_or_null (n->mac, &failed);
  c.network = dup_or_null (n->network, &failed);
  c.model = dup_or_null (n->model, &failed);
  if (failed || vm_nic_vector_append (&vm->nics, c) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", vm->source);
    nic_free (&c);
    return -1;
  }
  return 0;
}

void
vm_warn (struct vm *vm, enum hv_code code, const char *fmt, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) == -1)
    msg = NULL;
  va_end (ap);
  if (msg == NULL)
    return;
  hv_warning (code, "%s", msg);
  if (string_vector_append (&vm->warnings, msg) == -1)
    free (msg);
}

/* "disk" for "/x/disk.img" and "disk.tar" for "disk.tar.gz": the last
 * extension goes, if the name has more than that. */
static char *
name_from_path (const char *path)
{
  char *copy = strdup (path), *base, *dot, *name;

  if (copy == NULL)
    return NULL;
  base = basename (copy);
  dot = strrchr (base, '.');
  if (dot && dot != base)
    *dot = '\0';
  name = strdup (base);
  free (copy);
  return name;
}

struct vm *
vm_from_disks (char *const *paths, size_t n)
{
  char *name = n ? name_from_path (paths[0]) : NULL;
  struct vm *vm;

  if (n == 0 || n > 4) {
    hv_error (HV_E_USAGE, "a machine from bare disks takes 1 to 4 disks "
              "(the IDE channels), not %zu", n);
    free (name);
    return NULL;
  }
  if (name == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", paths[0]);
    return NULL;
  }
  vm = vm_new (name, paths[0], "disk");
  free (name);
  if (vm == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    const struct vm_disk d = {
      .media = VM_MEDIA_DISK, .bus = VM_BUS_IDE,
      .controller = i / 2, .slot = i % 2, .path = paths[i],
    };
    if (vm_add_disk (vm, &d) == -1) {
      vm_free (vm);
      return NULL;
    }
  }
  return vm;
}

void
vm_free (struct vm *vm)
{
  if (vm == NULL)
    return;
  for (size_t i = 0; i < vm->disks.len; i++)
    disk_free (&vm->disks.ptr[i]);
  for (size_t i = 0; i < vm->nics.len; i++)
    nic_free (&vm->nics.ptr[i]);
  for (size_t i = 0; i < vm->warnings.len; i++)
    free (vm->warnings.ptr[i]);
  free (vm->disks.ptr);
  free (vm->nics.ptr);
  free (vm->warnings.ptr);
  free (vm->name);
  free (vm->source);
  free (vm->guest_os);
  free (vm->guest_tools);
  free (vm->saved_state);
  free (vm);
}
