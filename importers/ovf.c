/* OVF descriptors (.ovf, and the one inside an .ova): the VM model.
 *
 * FORMATS.md section 5.  Disks come from References (File id -> href)
 * and DiskSection (Disk diskId -> fileRef, capacity); the hardware from
 * the first VirtualSystem's VirtualHardwareSection, whose Items carry a
 * CIM ResourceType: 3 CPU, 4 memory (VirtualQuantity scaled by
 * AllocationUnits), 5 IDE, 6 SCSI, 20 SATA controllers (by InstanceID),
 * 17 disks (HostResource "ovf:/disk/ID", Parent, AddressOnParent),
 * 15/16 CD/DVD, 14 floppy, 10 Ethernet (Address = MAC, Connection =
 * network, ResourceSubType = model).  Firmware from vmw:Config
 * key="firmware".  Namespaces are matched by local name only: writers
 * differ in prefixes and OVF versions.
 *
 * ovf_parse builds the model with each disk's `path` set to the File's
 * href (not yet a path); ovf_load (a plain .ovf) resolves the hrefs
 * beside the descriptor; the OVA reader matches them to archive
 * entries.
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include <libxml/tree.h>

#include "importers.h"

#define OVF_MAX_MEMORY (12 * TiB)
#define OVF_MAX_VCPUS  1024
#define OVF_MAX_ITEMS  4096

enum { RT_CPU = 3, RT_MEMORY = 4, RT_IDE = 5, RT_SCSI = 6, RT_ETHERNET = 10,
       RT_FLOPPY = 14, RT_CD = 15, RT_DVD = 16, RT_DISK = 17,
       RT_SATA = 20 };

struct controller {
  char *instance;
  enum vm_bus bus;
  unsigned number;           /* its Address, or its order of appearance */
};
DEFINE_VECTOR (controller_vector, struct controller)

struct ovf {
  const char *file;
  const xmlNode *envelope;
  struct vm *vm;
  struct controller_vector controllers;
  unsigned nbus[4];          /* controllers seen per bus */
};

/* ---------------------------------------------------------------- */
/* Values. */

/* Decimal unsigned text into *OUT within [MIN, MAX]; -1 after
 * reporting with WHAT. */
static int
parse_u64 (struct ovf *o, const char *what, const char *s, uint64_t min,
           uint64_t max, uint64_t *out)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = s && isdigit ((unsigned char) *s) ? strtoull (s, &end, 10) : 0;
  if (s == NULL || !isdigit ((unsigned char) *s) || errno || *end ||
      v < min || v > max) {
    hv_error (HV_E_FORMAT, "%s: %s is '%s'; expected a number from %"
              PRIu64 " to %" PRIu64, o->file, what, s ? s : "(missing)",
              min, max);
    return -1;
  }
  *out = v;
  return 0;
}

/* "byte * 2^20", "MegaBytes", "GB", "KB"... as a multiplier; 0 if
 * unknown. */
static uint64_t
units (const char *u)
{
  static const struct { const char *name; uint64_t mult; } names[] = {
    { "byte", 1 }, { "bytes", 1 }, { "kb", KiB }, { "kilobytes", KiB },
    { "mb", MiB }, { "megabytes", MiB }, { "gb", GiB },
    { "gigabytes", GiB }, { "tb", TiB },
  };
  unsigned e = 0;
  char *lower;
  uint64_t m = 0;

  if (u == NULL || *u == '\0')
    return 1;
  if ((lower = strdup (u)) == NULL)
    return 0;
  for (char *p = lower; *p; p++)
    *p = (char) tolower ((unsigned char) *p);
  if (sscanf (lower, "byte * 2^%u", &e) == 1 && e < 50)
    m = 1ULL << e;
  for (size_t i = 0; m == 0 && i < ARRAY_SIZE (names); i++)
    if (strcmp (lower, names[i].name) == 0)
      m = names[i].mult;
  free (lower);
  return m;
}

/* A quantity with its allocation units, in bytes, at most MAX. */
static int
scaled (struct ovf *o, const char *what, const char *value,
        const char *unit, uint64_t max, uint64_t *out)
{
  uint64_t n, m = units (unit);

  if (m == 0) {
    hv_error (HV_E_FORMAT, "%s: %s: unknown allocation units '%s'",
              o->file, what, unit);
    return -1;
  }
  if (parse_u64 (o, what, value, 1, max / m, &n) == -1)
    return -1;
  *out = n * m;
  return 0;
}

/* ---------------------------------------------------------------- */
/* Disks: DiskSection and References. */

static const xmlNode *
find_by_attr (const xmlNode *parent, const char *elem, const char *attr,
              const char *value)
{
  for (xmlNode *n = xml_child (parent, elem); n; n = xml_next (n, elem)) {
    char *v = xml_attr (n, attr);
    bool match = v && strcmp (v, value) == 0;
    free (v);
    if (match)
      return n;
  }
  return NULL;
}

/* Fill D from the Disk whose diskId is ID: href and capacity. */
static int
disk_by_id (struct ovf *o, const char *id, struct vm_disk *d)
{
  const xmlNode *ds = xml_child (o->envelope, "DiskSection");
  const xmlNode *disk = find_by_attr (ds, "Disk", "diskId", id), *file;
  char *ref, *cap, *capu, *href = NULL, *cz = NULL;
  int r = -1;

  if (disk == NULL) {
    hv_error (HV_E_FORMAT, "%s: no <Disk ovf:diskId=\"%s\"> in DiskSection",
              o->file, id);
    return -1;
  }
  ref = xml_attr (disk, "fileRef");
  cap = xml_attr (disk, "capacity");
  capu = xml_attr (disk, "capacityAllocationUnits");
  file = ref ? find_by_attr (xml_child (o->envelope, "References"), "File",
                             "id", ref) : NULL;
  if (ref == NULL || file == NULL || (href = xml_attr (file, "href")) == NULL)
    hv_error (HV_E_FORMAT, "%s: disk %s: no <File> for fileRef '%s' in "
              "References (a disk without an image is not supported)",
              o->file, id, ref ? ref : "");
  else if ((cz = xml_attr (file, "compression")) != NULL &&
           strcmp (cz, "identity") != 0)
    hv_error (HV_E_UNSUPPORTED, "%s: file %s is %s-compressed "
              "(ovf:compression); not supported", o->file, href, cz);
  else if (scaled (o, "Disk capacity", cap, capu, 2040 * GiB, &d->size)
           == 0) {
    d->path = href;
    href = NULL;
    r = 0;
  }
  free (ref);
  free (cap);
  free (capu);
  free (href);
  free (cz);
  return r;
}

/* ---------------------------------------------------------------- */
/* Hardware items. */

static char *
rasd (const xmlNode *item, const char *name)
{
  return xml_text (xml_child (item, name));
}

static const struct controller *
controller_of (struct ovf *o, const char *parent)
{
  for (size_t i = 0; parent && i < o->controllers.len; i++)
    if (strcmp (o->controllers.ptr[i].instance, parent) == 0)
      return &o->controllers.ptr[i];
  return NULL;
}

static int
add_controller (struct ovf *o, const xmlNode *item, enum vm_bus bus)
{
  char *address = rasd (item, "Address");
  struct controller c = { .instance = rasd (item, "InstanceID"),
                          .bus = bus, .number = o->nbus[bus]++ };
  uint64_t n;

  if (address && *address &&
      parse_u64 (o, "controller Address", address, 0, 3, &n) == 0)
    c.number = (unsigned) n;
  free (address);
  if (c.instance == NULL ||
      controller_vector_append (&o->controllers, c) == -1) {
    free (c.instance);
    return 0;                    /* an unnamed controller: unreachable */
  }
  return 0;
}

/* A drive Item: its controller and unit, its media. */
static int
add_drive (struct ovf *o, const xmlNode *item, enum vm_media media)
{
  char *parent = rasd (item, "Parent"), *unit = rasd (item, "AddressOnParent");
  char *host = rasd (item, "HostResource");
  const struct controller *c = controller_of (o, parent);
  struct vm_disk d = { .media = media, .bus = c ? c->bus : VM_BUS_IDE,
                       .controller = c ? c->number : 0 };
  uint64_t slot = 0;
  int r = 0;

  if (unit && *unit)
    r = parse_u64 (o, "AddressOnParent", unit, 0, 63, &slot);
  d.slot = (unsigned) slot;
  if (r == 0 && media == VM_MEDIA_DISK) {
    const char *id = host ? strrchr (host, '/') : NULL;
    if (host == NULL || id == NULL || id[1] == '\0') {
      hv_error (HV_E_FORMAT, "%s: a disk Item's HostResource is '%s', not "
                "ovf:/disk/ID", o->file, host ? host : "");
      r = -1;
    }
    else
      r = disk_by_id (o, id + 1, &d);
  }
  if (r == 0)
    r = vm_add_disk (o->vm, &d);
  free (d.path);
  free (parent);
  free (unit);
  free (host);
  return r;
}

static int
add_nic (struct ovf *o, const xmlNode *item)
{
  struct vm_nic n = {
    .mac = rasd (item, "Address"), .network = rasd (item, "Connection"),
    .model = rasd (item, "ResourceSubType"),
  };
  int r;

  if (n.mac && *n.mac == '\0') {
    free (n.mac);
    n.mac = NULL;
  }
  r = vm_add_nic (o->vm, &n);
  free (n.mac);
  free (n.network);
  free (n.model);
  return r;
}

static int
cpu_memory (struct ovf *o, const xmlNode *item, uint64_t type)
{
  char *q = rasd (item, "VirtualQuantity"), *u = rasd (item, "AllocationUnits");
  uint64_t v;
  int r;

  if (type == RT_CPU) {
    r = parse_u64 (o, "CPU VirtualQuantity", q, 1, OVF_MAX_VCPUS, &v);
    if (r == 0)
      o->vm->vcpus = (unsigned) v;
  }
  else {
    /* virt-v2v assumes MiB when the units are missing; so do we. */
    r = scaled (o, "memory VirtualQuantity", q, u ? u : "byte * 2^20",
                OVF_MAX_MEMORY, &v);
    if (r == 0)
      o->vm->memory = v;
  }
  free (q);
  free (u);
  return r;
}

/* Controllers first (drives name them), then everything else. */
static int
read_items (struct ovf *o, const xmlNode *hw, bool controllers)
{
  unsigned count = 0;

  for (xmlNode *it = xml_child (hw, "Item"); it; it = xml_next (it, "Item")) {
    char *t = rasd (it, "ResourceType");
    uint64_t type = 0;
    int r = 0;
    if (++count > OVF_MAX_ITEMS) {
      hv_error (HV_E_TOO_LARGE, "%s: more than %d hardware Items", o->file,
                OVF_MAX_ITEMS);
      free (t);
      return -1;
    }
    if (t == NULL || parse_u64 (o, "ResourceType", t, 0, 1000, &type) == -1)
      r = -1;
    else if (controllers)
      r = type == RT_IDE ? add_controller (o, it, VM_BUS_IDE)
        : type == RT_SCSI ? add_controller (o, it, VM_BUS_SCSI)
        : type == RT_SATA ? add_controller (o, it, VM_BUS_SATA) : 0;
    else if (type == RT_CPU || type == RT_MEMORY)
      r = cpu_memory (o, it, type);
    else if (type == RT_DISK)
      r = add_drive (o, it, VM_MEDIA_DISK);
    else if (type == RT_CD || type == RT_DVD)
      r = add_drive (o, it, VM_MEDIA_CDROM);
    else if (type == RT_FLOPPY)
      r = add_drive (o, it, VM_MEDIA_FLOPPY);
    else if (type == RT_ETHERNET)
      r = add_nic (o, it);
    free (t);
    if (r == -1)
      return -1;
  }
  return 0;
}

/* vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi". */
static void
read_firmware (struct ovf *o, const xmlNode *hw)
{
  for (xmlNode *c = xml_child (hw, "Config"); c; c = xml_next (c, "Config")) {
    char *k = xml_attr (c, "key"), *v = xml_attr (c, "value");
    if (k && v && strcmp (k, "firmware") == 0 && strcasecmp (v, "efi") == 0)
      o->vm->firmware = VM_FIRMWARE_UEFI;
    free (k);
    free (v);
  }
}

static char *
system_name (const xmlNode *vs, const char *fallback)
{
  char *name = xml_text (xml_child (vs, "Name"));

  if (name == NULL || *name == '\0') {
    free (name);
    name = xml_attr (vs, "id");
  }
  if (name == NULL || *name == '\0') {
    free (name);
    name = strdup (fallback);
  }
  return name;
}

struct vm *
ovf_parse (const char *filename, const char *buf, size_t len,
           const char *fallback_name, const char *source_format)
{
  struct ovf o = { .file = filename };
  struct _xmlDoc *doc = xml_parse (filename, buf, len);
  const xmlNode *root = doc ? xmlDocGetRootElement (doc) : NULL;
  const xmlNode *vs = NULL, *hw = NULL;
  char *name = NULL;

  if (root && strcmp ((const char *) root->name, "Envelope") != 0)
    hv_error (HV_E_FORMAT, "%s: root element is <%s>, not <Envelope>: not "
              "an OVF descriptor", filename, root->name);
  else if (root && ((vs = xml_child (root, "VirtualSystem")) == NULL ||
                    (hw = xml_child (vs, "VirtualHardwareSection")) == NULL))
    hv_error (HV_E_FORMAT, "%s: no VirtualSystem with a "
              "VirtualHardwareSection (a VirtualSystemCollection is not "
              "supported)", filename);
  if (hw && (name = system_name (vs, fallback_name)) != NULL)
    o.vm = vm_new (name, filename, source_format);
  o.envelope = root;
  if (o.vm && (read_items (&o, hw, true) == -1 ||
               read_items (&o, hw, false) == -1)) {
    vm_free (o.vm);
    o.vm = NULL;
  }
  if (o.vm)
    read_firmware (&o, hw);
  for (size_t i = 0; i < o.controllers.len; i++)
    free (o.controllers.ptr[i].instance);
  free (o.controllers.ptr);
  free (name);
  xmlFreeDoc (doc);
  return o.vm;
}

/* ---------------------------------------------------------------- */
/* A plain .ovf: its files beside it. */

/* The descriptor's name without ".ovf"/".ova". */
char *
ovf_default_name (const char *file)
{
  char *copy = strdup (file), *base, *name, *dot;

  if (copy == NULL)
    return NULL;
  base = basename (copy);
  dot = strrchr (base, '.');
  if (dot && dot != base && (strcasecmp (dot, ".ovf") == 0 ||
                             strcasecmp (dot, ".ova") == 0))
    *dot = '\0';
  name = strdup (base);
  free (copy);
  return name;
}

/* An href as a file beside the descriptor: a regular file. */
static int
resolve_href (const char *file, struct vm_disk *d, unsigned flags)
{
  char *path = importer_related_path (file, d->path, flags, "disk file");
  struct stat st;

  if (path && stat (path, &st) == -1)
    hv_error (HV_E_IO, "%s: disk file %s: %m", file, d->path);
  else if (path && !S_ISREG (st.st_mode))
    hv_error (HV_E_UNSAFE, "%s: disk file %s is not a regular file", file,
              d->path);
  else if (path) {
    free (d->path);
    d->path = path;
    return 0;
  }
  free (path);
  return -1;
}

struct vm *
ovf_load (const char *filename, unsigned flags)
{
  char *buf, *name = ovf_default_name (filename);
  size_t len;
  struct vm *vm = NULL;

  if (name && importer_read_file (filename, 16 * MiB, &buf, &len) == 0) {
    vm = ovf_parse (filename, buf, len, name, "ovf");
    free (buf);
  }
  for (size_t i = 0; vm && i < vm->disks.len; i++)
    if (vm->disks.ptr[i].path &&
        resolve_href (filename, &vm->disks.ptr[i], flags) == -1) {
      vm_free (vm);
      vm = NULL;
    }
  free (name);
  return vm;
}

/* "<Envelope" (any prefix) near the start of a text file. */
bool
ovf_probe (const char *head, size_t len)
{
  char text[4097];

  len = MIN (len, sizeof text - 1);
  memcpy (text, head, len);
  text[len] = '\0';
  return strlen (text) == len && strstr (text, "Envelope") &&
    strstr (text, "schemas.dmtf.org/ovf/envelope");
}
