/* NAME.xml: a libvirt domain, to run the converted machine on KVM.
 *
 * It mirrors what Hyper-V would give the machine: generation 1 is an
 * i440FX PC with the disks on the IDE channels where the model places
 * them and DEC 21140 ("tulip") NICs, Hyper-V's legacy adapter;
 * generation 2 is a Q35 machine with UEFI firmware and SCSI disks.
 * The Hyper-V enlightenments are on, as a Hyper-V host offers them.
 * Written with libxml2's writer, so every value is escaped.
 */
#include <config.h>

#include <libxml/xmlwriter.h>

#include "convert.h"

#define W(x) do { if ((x) < 0) return -1; } while (0)

static int
elem_text (xmlTextWriter *w, const char *name, const char *text)
{
  return xmlTextWriterWriteElement (w, BAD_CAST name, BAD_CAST text);
}

static int
attr (xmlTextWriter *w, const char *name, const char *value)
{
  return xmlTextWriterWriteAttribute (w, BAD_CAST name, BAD_CAST value);
}

static int
attr_u (xmlTextWriter *w, const char *name, unsigned long long v)
{
  return xmlTextWriterWriteFormatAttribute (w, BAD_CAST name, "%llu", v);
}

static int
start (xmlTextWriter *w, const char *name)
{
  return xmlTextWriterStartElement (w, BAD_CAST name);
}

static int
end (xmlTextWriter *w)
{
  return xmlTextWriterEndElement (w);
}

/* <empty a="v"/> with one attribute. */
static int
empty1 (xmlTextWriter *w, const char *name, const char *a, const char *v)
{
  W (start (w, name));
  W (attr (w, a, v));
  return end (w);
}

static int
os_and_features (xmlTextWriter *w, const struct vm *vm)
{
  static const char *const hv[] = {
    "relaxed", "vapic", "vpindex", "synic", "stimer",
  };

  W (start (w, "os"));
  W (start (w, "type"));
  W (attr (w, "arch", "x86_64"));
  W (attr (w, "machine", vm->firmware == VM_FIRMWARE_UEFI ? "q35" : "pc"));
  W (xmlTextWriterWriteString (w, BAD_CAST "hvm"));
  W (end (w));
  if (vm->firmware == VM_FIRMWARE_UEFI) {
    W (start (w, "loader"));
    W (attr (w, "readonly", "yes"));
    W (attr (w, "type", "pflash"));
    W (xmlTextWriterWriteString (w, BAD_CAST "/usr/share/OVMF/OVMF_CODE.fd"));
    W (end (w));
  }
  W (empty1 (w, "boot", "dev", "hd"));
  W (end (w));
  W (start (w, "features"));
  W (start (w, "acpi")); W (end (w));
  W (start (w, "apic")); W (end (w));
  W (start (w, "hyperv"));
  for (size_t i = 0; i < ARRAY_SIZE (hv); i++)
    W (empty1 (w, hv[i], "state", "on"));
  W (start (w, "spinlocks"));
  W (attr (w, "state", "on"));
  W (attr (w, "retries", "8191"));
  W (end (w));
  W (end (w));
  W (end (w));
  W (start (w, "clock"));
  W (attr (w, "offset", "localtime"));
  W (empty1 (w, "timer", "name", "hypervclock"));
  return end (w);
}

/* hda..hdd on IDE (channel * 2 + unit), sda.. on SCSI, fda. */
static void
target_dev (const struct vm_disk *d, char dev[8])
{
  const char *prefix = d->media == VM_MEDIA_FLOPPY ? "fd"
    : d->bus == VM_BUS_IDE ? "hd" : "sd";
  unsigned n = d->media == VM_MEDIA_FLOPPY ? 0
    : d->bus == VM_BUS_IDE ? d->controller * 2 + d->slot
    : d->controller * 16 + d->slot;

  snprintf (dev, 8, "%s%c", prefix, 'a' + (char) MIN (n, 25u));
}

static int
disk (xmlTextWriter *w, const struct vm_disk *d, const char *dir)
{
  char dev[8], path[4096];
  const bool hd = d->media == VM_MEDIA_DISK;
  const char *file = hd ? d->output : d->path;

  if (hd && file == NULL)
    return 0;
  if (hd)
    snprintf (path, sizeof path, "%s/%s", dir, file);
  target_dev (d, dev);
  W (start (w, "disk"));
  W (attr (w, "type", "file"));
  W (attr (w, "device", vm_media_name (d->media)));
  W (start (w, "driver"));
  W (attr (w, "name", "qemu"));
  W (attr (w, "type", hd ? "vpc" : "raw"));
  W (end (w));
  if (file)
    W (empty1 (w, "source", "file", hd ? path : file));
  W (start (w, "target"));
  W (attr (w, "dev", dev));
  W (attr (w, "bus", d->media == VM_MEDIA_FLOPPY ? "fdc"
           : d->bus == VM_BUS_IDE ? "ide" : "scsi"));
  W (end (w));
  if (d->media == VM_MEDIA_CDROM) {
    W (start (w, "readonly"));
    W (end (w));
  }
  if (d->media != VM_MEDIA_FLOPPY) {
    W (start (w, "address"));
    W (attr (w, "type", "drive"));
    W (attr_u (w, "controller", d->bus == VM_BUS_IDE ? 0 : d->controller));
    W (attr_u (w, "bus", d->bus == VM_BUS_IDE ? d->controller : 0));
    W (attr (w, "target", "0"));
    W (attr_u (w, "unit", d->slot));
    W (end (w));
  }
  return end (w);
}

static int
nic (xmlTextWriter *w, const struct vm_nic *n, bool gen2)
{
  W (start (w, "interface"));
  W (attr (w, "type", "network"));
  if (n->mac)
    W (empty1 (w, "mac", "address", n->mac));
  W (empty1 (w, "source", "network", "default"));
  W (empty1 (w, "model", "type", gen2 ? "e1000e" : "tulip"));
  return end (w);
}

static int
devices (xmlTextWriter *w, const struct vm *vm, const char *dir)
{
  const bool gen2 = vm->firmware == VM_FIRMWARE_UEFI;

  W (start (w, "devices"));
  for (size_t i = 0; i < vm->disks.len; i++)
    W (disk (w, &vm->disks.ptr[i], dir));
  if (gen2)
    W (empty1 (w, "controller", "type", "scsi"));
  for (size_t i = 0; i < vm->nics.len; i++)
    W (nic (w, &vm->nics.ptr[i], gen2));
  W (empty1 (w, "serial", "type", "pty"));
  W (empty1 (w, "input", "type", "keyboard"));
  W (start (w, "graphics"));
  W (attr (w, "type", "vnc"));
  W (attr (w, "listen", "127.0.0.1"));
  W (end (w));
  W (start (w, "video"));
  W (empty1 (w, "model", "type", "vga"));
  W (end (w));
  return end (w);
}

static int
domain (xmlTextWriter *w, const struct vm *vm, const char *dir)
{
  W (xmlTextWriterSetIndent (w, 1));
  W (xmlTextWriterSetIndentString (w, BAD_CAST "  "));
  W (xmlTextWriterStartDocument (w, NULL, "UTF-8", NULL));
  W (start (w, "domain"));
  W (attr (w, "type", "kvm"));
  W (elem_text (w, "name", vm->name));
  W (start (w, "memory"));
  W (attr (w, "unit", "KiB"));
  W (xmlTextWriterWriteFormatString (w, "%llu",
                                     (unsigned long long) vm->memory / 1024));
  W (end (w));
  W (xmlTextWriterWriteFormatElement (w, BAD_CAST "vcpu", "%u", vm->vcpus));
  W (os_and_features (w, vm));
  W (devices (w, vm, dir));
  W (end (w));
  return xmlTextWriterEndDocument (w);
}

char *
vm_libvirt_xml (const struct vm *vm, const char *dir)
{
  xmlBuffer *buf = xmlBufferCreate ();
  xmlTextWriter *w = buf ? xmlNewTextWriterMemory (buf, 0) : NULL;
  char *text = NULL;
  int r = w ? domain (w, vm, dir) : -1;

  xmlFreeTextWriter (w);         /* flushes into buf */
  if (r >= 0 && buf)
    text = strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  if (text == NULL)
    hv_error (HV_E_NOMEM, "%s: writing the libvirt domain: %m", vm->name);
  return text;
}
