/* NAME.ovf: an OVF 1.0 descriptor of the converted machine, so other
 * tools (VirtualBox, ovftool, virt-v2v) can take it.
 *
 * The disks are referenced by file name (they sit beside the .ovf) in
 * the VHD format URI; the hardware is described with the DMTF CIM
 * resource types FORMATS.md lists (3 CPU, 4 memory, 5 IDE, 6 SCSI,
 * 10 Ethernet, 14 floppy, 15 CD, 17 disk).  Written with libxml2's
 * writer, so every value is escaped.
 */
#include <config.h>

#include <sys/stat.h>

#include <libxml/xmlwriter.h>

#include "convert.h"

#define W(x) do { if ((x) < 0) return -1; } while (0)

#define NS_OVF  "http://schemas.dmtf.org/ovf/envelope/1"
#define NS_RASD "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/" \
  "CIM_ResourceAllocationSettingData"
#define NS_VSSD "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/" \
  "CIM_VirtualSystemSettingData"
#define VHD_FORMAT "http://go.microsoft.com/fwlink/?LinkId=137171"

enum { RT_CPU = 3, RT_MEMORY = 4, RT_IDE = 5, RT_SCSI = 6, RT_ETHERNET = 10,
       RT_FLOPPY = 14, RT_CD = 15, RT_DISK = 17 };

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

static int
attr (xmlTextWriter *w, const char *name, const char *value)
{
  return xmlTextWriterWriteAttribute (w, BAD_CAST name, BAD_CAST value);
}

static int
text (xmlTextWriter *w, const char *name, const char *value)
{
  return xmlTextWriterWriteElement (w, BAD_CAST name, BAD_CAST value);
}

static int
num (xmlTextWriter *w, const char *name, unsigned long long v)
{
  return xmlTextWriterWriteFormatElement (w, BAD_CAST name, "%llu", v);
}

static int
references (xmlTextWriter *w, const struct vm *vm, const char *dir)
{
  char path[4096];
  struct stat st;
  unsigned n = 0;

  W (start (w, "References"));
  for (size_t i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    if (d->media != VM_MEDIA_DISK || d->output == NULL)
      continue;
    snprintf (path, sizeof path, "%s/%s", dir, d->output);
    W (start (w, "File"));
    W (xmlTextWriterWriteFormatAttribute (w, BAD_CAST "ovf:id", "file%u",
                                          ++n));
    W (attr (w, "ovf:href", d->output));
    if (stat (path, &st) == 0)
      W (xmlTextWriterWriteFormatAttribute (w, BAD_CAST "ovf:size", "%llu",
                                            (unsigned long long) st.st_size));
    W (end (w));
  }
  return end (w);
}

static int
disk_section (xmlTextWriter *w, const struct vm *vm)
{
  unsigned n = 0;

  W (start (w, "DiskSection"));
  W (text (w, "Info", "Virtual disks"));
  for (size_t i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    if (d->media != VM_MEDIA_DISK || d->output == NULL)
      continue;
    n++;
    W (start (w, "Disk"));
    W (xmlTextWriterWriteFormatAttribute (w, BAD_CAST "ovf:diskId",
                                          "vmdisk%u", n));
    W (xmlTextWriterWriteFormatAttribute (w, BAD_CAST "ovf:fileRef",
                                          "file%u", n));
    W (xmlTextWriterWriteFormatAttribute (w, BAD_CAST "ovf:capacity",
                                          "%llu",
                                          (unsigned long long) d->size));
    W (attr (w, "ovf:format", VHD_FORMAT));
    W (end (w));
  }
  return end (w);
}

static int
network_section (xmlTextWriter *w, const struct vm *vm)
{
  W (start (w, "NetworkSection"));
  W (text (w, "Info", "Networks"));
  W (start (w, "Network"));
  W (attr (w, "ovf:name", "default"));
  W (text (w, "Description", "The network the adapters connect to"));
  W (end (w));
  return end (w);
}

/* One <Item>: CAPTION, INSTANCE id, resource TYPE, then the caller adds
 * fields and closes it. */
static int
item (xmlTextWriter *w, const char *caption, unsigned instance, int type)
{
  W (start (w, "Item"));
  W (text (w, "rasd:ElementName", caption));
  W (num (w, "rasd:InstanceID", instance));
  return num (w, "rasd:ResourceType", (unsigned long long) type);
}

/* Controllers get InstanceIDs 10 + bus * 4 + controller. */
static unsigned
controller_id (const struct vm_disk *d)
{
  return 10 + (unsigned) d->bus * 4 + d->controller;
}

static int
controllers (xmlTextWriter *w, const struct vm *vm)
{
  bool done[16] = { false };

  for (size_t i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    unsigned id = controller_id (d);
    if (d->media == VM_MEDIA_FLOPPY || d->controller > 3 || done[id - 10])
      continue;
    done[id - 10] = true;
    W (item (w, d->bus == VM_BUS_IDE ? "IDE Controller" : "SCSI Controller",
             id, d->bus == VM_BUS_IDE ? RT_IDE : RT_SCSI));
    W (num (w, "rasd:Address", d->controller));
    W (end (w));
  }
  return 0;
}

static int
drives (xmlTextWriter *w, const struct vm *vm, unsigned *next)
{
  unsigned n = 0;

  for (size_t i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    const bool hd = d->media == VM_MEDIA_DISK;
    if ((hd && d->output == NULL) || d->controller > 3)
      continue;
    W (item (w, hd ? "Hard Disk" : vm_media_name (d->media), (*next)++,
             hd ? RT_DISK : d->media == VM_MEDIA_CDROM ? RT_CD : RT_FLOPPY));
    if (hd)
      W (xmlTextWriterWriteFormatElement (w, BAD_CAST "rasd:HostResource",
                                          "ovf:/disk/vmdisk%u", ++n));
    if (d->media != VM_MEDIA_FLOPPY) {
      W (num (w, "rasd:Parent", controller_id (d)));
      W (num (w, "rasd:AddressOnParent", d->slot));
    }
    W (end (w));
  }
  return 0;
}

static int
nics (xmlTextWriter *w, const struct vm *vm, unsigned *next)
{
  for (size_t i = 0; i < vm->nics.len; i++) {
    const struct vm_nic *n = &vm->nics.ptr[i];
    W (item (w, "Network Adapter", (*next)++, RT_ETHERNET));
    if (n->mac)
      W (text (w, "rasd:Address", n->mac));
    W (text (w, "rasd:Connection", "default"));
    W (text (w, "rasd:ResourceSubType", n->synthetic ? "Synthetic"
             : "DEC21140"));
    W (end (w));
  }
  return 0;
}

static int
hardware (xmlTextWriter *w, const struct vm *vm)
{
  unsigned next = 100;

  W (start (w, "VirtualHardwareSection"));
  W (text (w, "Info", "Virtual hardware"));
  W (start (w, "System"));
  W (text (w, "vssd:ElementName", "Virtual Hardware Family"));
  W (num (w, "vssd:InstanceID", 0));
  W (text (w, "vssd:VirtualSystemType", vm->firmware == VM_FIRMWARE_UEFI
           ? "Microsoft:Hyper-V:SubType:2" : "Microsoft:Hyper-V:SubType:1"));
  W (end (w));
  W (item (w, "Processors", 1, RT_CPU));
  W (num (w, "rasd:VirtualQuantity", vm->vcpus));
  W (end (w));
  W (item (w, "Memory", 2, RT_MEMORY));
  W (text (w, "rasd:AllocationUnits", "byte * 2^20"));
  W (num (w, "rasd:VirtualQuantity", vm->memory / MiB));
  W (end (w));
  W (controllers (w, vm));
  W (drives (w, vm, &next));
  W (nics (w, vm, &next));
  return end (w);
}

static int
envelope (xmlTextWriter *w, const struct vm *vm, const char *dir)
{
  W (xmlTextWriterSetIndent (w, 1));
  W (xmlTextWriterSetIndentString (w, BAD_CAST "  "));
  W (xmlTextWriterStartDocument (w, NULL, "UTF-8", NULL));
  W (start (w, "Envelope"));
  W (attr (w, "xmlns", NS_OVF));
  W (attr (w, "xmlns:ovf", NS_OVF));
  W (attr (w, "xmlns:rasd", NS_RASD));
  W (attr (w, "xmlns:vssd", NS_VSSD));
  W (references (w, vm, dir));
  W (disk_section (w, vm));
  W (network_section (w, vm));
  W (start (w, "VirtualSystem"));
  W (attr (w, "ovf:id", vm->name));
  W (text (w, "Info", "A virtual machine converted by hvconvert"));
  W (text (w, "Name", vm->name));
  W (hardware (w, vm));
  W (end (w));
  W (end (w));
  return xmlTextWriterEndDocument (w);
}

char *
vm_ovf (const struct vm *vm, const char *dir)
{
  xmlBuffer *buf = xmlBufferCreate ();
  xmlTextWriter *w = buf ? xmlNewTextWriterMemory (buf, 0) : NULL;
  char *out = NULL;
  int r = w ? envelope (w, vm, dir) : -1;

  xmlFreeTextWriter (w);
  if (r >= 0 && buf)
    out = strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  if (out == NULL)
    hv_error (HV_E_NOMEM, "%s: writing the OVF descriptor: %m", vm->name);
  return out;
}
