/* Virtual PC 2004/2007 and Virtual Server 2005 machines (.vmc).
 *
 * A .vmc is XML, normally UTF-16LE with a BOM (also UTF-8 from other
 * generators), whose root is <preferences> and whose every leaf carries
 * a type= attribute (FORMATS.md section 6).  We read what a Hyper-V
 * machine needs: memory, the IDE drives (controller = channel, location
 * = master/slave; drive_type 1 disk, 2 CD/DVD), their undo disks, the
 * NICs (VPC emulates a DEC 21140: Hyper-V's legacy adapter), the floppy,
 * the guest OS and a saved state.  Real files have quirks, tolerated
 * here: controllers out of order, empty path elements, relative paths
 * without ".\", placeholder ids.
 *
 * Paths are Windows paths.  Each is resolved as FORMATS.md says:
 * absolute first (only if it is a path of this system), then relative
 * to the .vmc's folder, then the bare file name in that folder (a
 * machine copied from its Windows host keeps its files together).  The
 * result goes through importer_related_path, so a path outside the
 * folder needs --allow-outside-paths, and it must be a regular file.
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include <libxml/tree.h>

#include "importers.h"

#define VMC_MIN_MEMORY_MIB 4
#define VMC_MAX_MEMORY_MIB (12 * 1024 * 1024)   /* Hyper-V's 12 TiB */

struct vmc {
  const char *file;
  unsigned flags;
  struct vm *vm;
};

/* ---------------------------------------------------------------- */
/* Typed leaves. */

/* The integer leaf at PATH under N, within [MIN, MAX].  Returns 1 and
 * sets *OUT, 0 if absent or empty, -1 after reporting. */
static int
leaf_integer (struct vmc *c, const xmlNode *n, const char *path,
              int64_t min, int64_t max, int64_t *out)
{
  char *s = xml_text (xml_path (n, path)), *end;
  long long v;
  int r = 0;

  if (s && *s) {
    errno = 0;
    v = strtoll (s, &end, 10);
    if (errno || *end || v < min || v > max) {
      hv_error (HV_E_FORMAT, "%s: <%s> is '%s'; expected an integer from %"
                PRId64 " to %" PRId64, c->file, path, s, min, max);
      r = -1;
    }
    else {
      *out = v;
      r = 1;
    }
  }
  free (s);
  return r;
}

/* A string leaf, NULL if absent or empty. */
static char *
leaf_string (const xmlNode *n, const char *path)
{
  char *s = xml_text (xml_path (n, path));

  if (s && *s == '\0') {
    free (s);
    s = NULL;
  }
  return s;
}

/* "0003FF1A2B3C" as "00:03:ff:1a:2b:3c"; NULL (and a warning) if it is
 * not 12 hex digits. */
static char *
format_mac (struct vmc *c, const char *hex)
{
  char *mac;

  if (strlen (hex) != 12 || strspn (hex, "0123456789abcdefABCDEF") != 12) {
    vm_warn (c->vm, HV_E_FORMAT, "%s: ethernet_card_address '%s' is not a "
             "MAC address; a new one will be generated", c->file, hex);
    return NULL;
  }
  if (asprintf (&mac, "%.2s:%.2s:%.2s:%.2s:%.2s:%.2s", hex, hex + 2,
                hex + 4, hex + 6, hex + 8, hex + 10) == -1)
    return NULL;
  for (char *p = mac; *p; p++)
    *p = (char) tolower ((unsigned char) *p);
  return mac;
}

/* ---------------------------------------------------------------- */
/* Paths. */

/* A Windows path as a path of this system: backslashes become slashes,
 * a leading ".\" goes. */
static char *
unix_path (const char *win)
{
  char *p = strdup (win), *q;

  if (p == NULL)
    return NULL;
  for (q = p; *q; q++)
    if (*q == '\\')
      *q = '/';
  if (strncmp (p, "./", 2) == 0)
    memmove (p, p + 2, strlen (p + 2) + 1);
  return p;
}

/* Does NAME exist relative to the folder of the .vmc (or absolutely)? */
static bool
exists_beside (struct vmc *c, const char *name)
{
  char *copy = strdup (c->file), *path = NULL;
  bool r = false;

  if (copy && (name[0] == '/' ||
               asprintf (&path, "%s/%s", dirname (copy), name) != -1))
    r = access (path ? path : name, F_OK) == 0;
  free (path);
  free (copy);
  return r;
}

/* The candidates for a drive's file, in the order FORMATS.md gives.
 * Fills NAMES (malloc'd, N of them). */
static size_t
candidates (const char *absolute, const char *relative, char *names[4])
{
  size_t n = 0;
  char *a = absolute ? unix_path (absolute) : NULL;
  char *r = relative ? unix_path (relative) : NULL;

  if (a && a[0] == '/')          /* a path of this system */
    names[n++] = strdup (a);
  if (r && *r)
    names[n++] = strdup (r);
  if (a && strrchr (a, '/'))
    names[n++] = strdup (strrchr (a, '/') + 1);
  else if (a && *a && !(isalpha ((unsigned char) a[0]) && a[1] == ':'))
    names[n++] = strdup (a);
  if (r && strrchr (r, '/'))
    names[n++] = strdup (strrchr (r, '/') + 1);
  free (a);
  free (r);
  return n;
}

/* Resolve the <pathname> (or <undo_pathname>) element P of a drive.
 * Returns 1 with *OUT set (malloc'd), 0 if P names nothing that exists
 * (*SHOWN gets the name to show), -1 after reporting. */
static int
resolve (struct vmc *c, const xmlNode *p, const char *what, char **out,
         char **shown)
{
  char *absolute = leaf_string (p, "absolute");
  char *relative = leaf_string (p, "relative");
  char *names[4] = { NULL };
  size_t n = candidates (absolute, relative, names), i;
  int r = 0;

  *out = NULL;
  *shown = strdup (absolute ? absolute : relative ? relative : "");
  for (i = 0; i < n && names[i] && !exists_beside (c, names[i]); i++)
    ;
  if (i < n && names[i]) {
    *out = importer_related_path (c->file, names[i], c->flags, what);
    r = *out ? 1 : -1;
  }
  for (i = 0; i < n; i++)
    free (names[i]);
  free (absolute);
  free (relative);
  return r;
}

/* A drive's file must be a regular file: never a device, whatever the
 * .vmc says. */
static int
check_regular (struct vmc *c, const char *path, const char *what)
{
  struct stat st;

  if (stat (path, &st) == -1) {
    hv_error (HV_E_IO, "%s: %s %s: %m", c->file, what, path);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    hv_error (HV_E_UNSAFE, "%s: %s %s is not a regular file", c->file, what,
              path);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* Drives. */

/* The undo disk of a hard disk, if its <undo_pathname> names one that
 * is there.  Returns 0 (with *UNDO set or NULL) or -1. */
static int
find_undo (struct vmc *c, const xmlNode *loc, const struct vm_disk *d,
           char **undo)
{
  const xmlNode *u = xml_child (loc, "undo_pathname");
  char *shown = NULL;
  int r = u ? resolve (c, u, "undo disk", undo, &shown) : 0;

  if (r == 0 && shown && *shown)
    vm_warn (c->vm, HV_E_FORMAT, "%s: undo disk '%s' of IDE %u:%u is not "
             "there; the disk is converted as it is", c->file, shown,
             d->controller, d->slot);
  if (r == 1 && check_regular (c, *undo, "undo disk") == -1)
    r = -1;
  free (shown);
  return r == -1 ? -1 : 0;
}

static int
add_hard_disk (struct vmc *c, const xmlNode *loc, struct vm_disk *d)
{
  char *path, *shown, *undo = NULL;
  int r = resolve (c, xml_child (loc, "pathname"), "hard disk", &path,
                   &shown);

  if (r == 0)
    hv_error (HV_E_IO, "%s: hard disk on IDE %u:%u: '%s' not found (looked "
              "for it as given, relative to the .vmc, and beside it)",
              c->file, d->controller, d->slot, shown);
  r = r == 1 && check_regular (c, path, "hard disk") == 0 &&
    find_undo (c, loc, d, &undo) == 0 ? 0 : -1;
  d->path = path;
  d->undo = undo;
  if (r == 0)
    r = vm_add_disk (c->vm, d);
  free (path);
  free (undo);
  free (shown);
  return r;
}

/* A CD/DVD: an ISO image, a host drive letter ("D"), or empty. */
static int
add_cdrom (struct vmc *c, const xmlNode *loc, struct vm_disk *d)
{
  const xmlNode *p = xml_child (loc, "pathname");
  char *absolute = leaf_string (p, "absolute"), *path = NULL, *shown = NULL;
  int r = 0;

  if (absolute && strlen (absolute) <= 2 && isalpha ((unsigned char) *absolute))
    d->host_drive = absolute;       /* "D" or "D:": the host's drive */
  else if (p && (r = resolve (c, p, "CD/DVD image", &path, &shown)) == 0 &&
           shown && *shown)
    vm_warn (c->vm, HV_E_FORMAT, "%s: CD/DVD image '%s' on IDE %u:%u not "
             "found; the drive is left empty", c->file, shown,
             d->controller, d->slot);
  if (r == 1)
    r = check_regular (c, path, "CD/DVD image") == 0 ? 0 : -1;
  d->path = path;
  if (r >= 0)
    r = vm_add_disk (c->vm, d);
  free (absolute);
  free (path);
  free (shown);
  return r;
}

static int
add_location (struct vmc *c, unsigned controller, const xmlNode *loc)
{
  int64_t slot, type = 0;
  struct vm_disk d = { .bus = VM_BUS_IDE, .controller = controller };
  char *id = xml_attr (loc, "id");
  int r;

  r = id && sscanf (id, "%" SCNd64, &slot) == 1 && slot >= 0 && slot <= 1;
  if (!r)
    hv_error (HV_E_FORMAT, "%s: IDE controller %u: <location id=\"%s\"> is "
              "not 0 or 1", c->file, controller, id ? id : "");
  free (id);
  if (!r || leaf_integer (c, loc, "drive_type", 0, 2, &type) == -1)
    return -1;
  d.slot = (unsigned) slot;
  switch (type) {
  case 1:
    d.media = VM_MEDIA_DISK;
    return add_hard_disk (c, loc, &d);
  case 2:
    d.media = VM_MEDIA_CDROM;
    return add_cdrom (c, loc, &d);
  default:                       /* 0: no drive */
    return 0;
  }
}

static int
read_ide (struct vmc *c, const xmlNode *prefs)
{
  const xmlNode *ide = xml_path (prefs, "hardware/pci_bus/ide_adapter");

  for (xmlNode *ctl = xml_child (ide, "ide_controller"); ctl;
       ctl = xml_next (ctl, "ide_controller")) {
    char *id = xml_attr (ctl, "id");
    int64_t n;
    int ok = id && sscanf (id, "%" SCNd64, &n) == 1 && n >= 0 && n <= 1;
    if (!ok)
      hv_error (HV_E_FORMAT, "%s: <ide_controller id=\"%s\"> is not 0 or 1",
                c->file, id ? id : "");
    free (id);
    if (!ok)
      return -1;
    for (xmlNode *loc = xml_child (ctl, "location"); loc;
         loc = xml_next (loc, "location"))
      if (add_location (c, (unsigned) n, loc) == -1)
        return -1;
  }
  return 0;
}

/* Virtual PC's floppy: a .vfd image, if one is attached. */
static int
read_floppy (struct vmc *c, const xmlNode *prefs)
{
  const xmlNode *f = xml_path (prefs, "hardware/super_io/floppy");
  struct vm_disk d = { .media = VM_MEDIA_FLOPPY };
  char *path = NULL, *shown = NULL;
  int r = f ? resolve (c, xml_child (f, "pathname"), "floppy image", &path,
                       &shown) : 0;

  if (r == 1 && check_regular (c, path, "floppy image") == 0) {
    d.path = path;
    r = vm_add_disk (c->vm, &d);
  }
  else if (r == 0 && shown && *shown)
    vm_warn (c->vm, HV_E_FORMAT, "%s: floppy image '%s' not found; left out",
             c->file, shown);
  free (path);
  free (shown);
  return r == -1 ? -1 : 0;
}

static int
read_nics (struct vmc *c, const xmlNode *prefs)
{
  const xmlNode *eth = xml_path (prefs, "hardware/pci_bus/ethernet_adapter");

  for (xmlNode *n = xml_child (eth, "ethernet_controller"); n;
       n = xml_next (n, "ethernet_controller")) {
    char *hex = leaf_string (n, "ethernet_card_address");
    struct vm_nic nic = {
      .model = "dec21140",
      .network = leaf_string (n, "virtual_network/name"),
      .mac = hex ? format_mac (c, hex) : NULL,
    };
    int r = vm_add_nic (c->vm, &nic);
    free (hex);
    free (nic.mac);
    free (nic.network);
    if (r == -1)
      return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* The machine. */

static int
read_memory (struct vmc *c, const xmlNode *prefs)
{
  int64_t mib;
  int r = leaf_integer (c, prefs, "hardware/memory/ram_size",
                        VMC_MIN_MEMORY_MIB, VMC_MAX_MEMORY_MIB, &mib);

  if (r == 1)
    c->vm->memory = (uint64_t) mib * MiB;
  else if (r == 0)
    vm_warn (c->vm, HV_E_FORMAT, "%s: no <ram_size>; using %" PRIu64
             " MiB", c->file, (uint64_t) (c->vm->memory / MiB));
  return r == -1 ? -1 : 0;
}

/* A saved state named in the file, or a .vsv beside it with the .vmc's
 * name (Virtual PC's convention). */
static int
read_saved_state (struct vmc *c, const xmlNode *prefs)
{
  const xmlNode *p = xml_path (prefs, "settings/configuration/saved_state/"
                               "path");
  char *path = NULL, *shown = NULL, *vsv = NULL;
  int r = p ? resolve (c, p, "saved state", &path, &shown) : 0;

  if (r == 0 && asprintf (&vsv, "%s.vsv", c->vm->name) != -1 &&
      exists_beside (c, vsv)) {
    path = importer_related_path (c->file, vsv, c->flags, "saved state");
    r = path ? 1 : -1;
  }
  c->vm->saved_state = path;
  free (shown);
  free (vsv);
  return r == -1 ? -1 : 0;
}

static void
read_guest_os (struct vmc *c, const xmlNode *prefs)
{
  char *additions = leaf_string (prefs, "integration/microsoft/version/"
                                 "additions_number");

  c->vm->guest_os = leaf_string (prefs, "integration/microsoft/version/"
                                 "guest_os/long_name");
  if (c->vm->guest_os == NULL)
    c->vm->guest_os = leaf_string (prefs, "settings/guest_os");
  if (additions &&
      asprintf (&c->vm->guest_tools, "Virtual PC Additions %s",
                additions) == -1)
    c->vm->guest_tools = NULL;
  free (additions);
}

static int
read_machine (struct vmc *c, const xmlNode *prefs)
{
  if (read_memory (c, prefs) == -1 || read_ide (c, prefs) == -1 ||
      read_floppy (c, prefs) == -1 || read_nics (c, prefs) == -1 ||
      read_saved_state (c, prefs) == -1)
    return -1;
  read_guest_os (c, prefs);
  return 0;
}

/* The machine's name: the .vmc's file name without ".vmc". */
static char *
machine_name (const char *file)
{
  char *copy = strdup (file), *base, *name;
  size_t n;

  if (copy == NULL)
    return NULL;
  base = basename (copy);
  n = strlen (base);
  if (n > 4 && strcasecmp (base + n - 4, ".vmc") == 0)
    base[n - 4] = '\0';
  name = strdup (base);
  free (copy);
  return name;
}

/* Drives in a stable order whatever the file's order: floppy last, IDE
 * by channel then master/slave, so disk N is the same disk every time. */
static int
drive_order (const void *pa, const void *pb)
{
  const struct vm_disk *a = pa, *b = pb;
  unsigned ka = (a->media == VM_MEDIA_FLOPPY) * 100 + a->controller * 2 +
    a->slot;
  unsigned kb = (b->media == VM_MEDIA_FLOPPY) * 100 + b->controller * 2 +
    b->slot;

  return (ka > kb) - (ka < kb);
}

struct vm *
vmc_load (const char *filename, unsigned flags)
{
  struct vmc c = { .file = filename, .flags = flags };
  xmlDoc *doc = xml_read (filename);
  xmlNode *root = doc ? xmlDocGetRootElement (doc) : NULL;
  char *name = machine_name (filename);

  if (root && strcmp ((const char *) root->name, "preferences") != 0)
    hv_error (HV_E_FORMAT, "%s: root element is <%s>, not <preferences>: "
              "not a Virtual PC machine", filename, root->name);
  else if (root && name)
    c.vm = vm_new (name, filename, "vmc");
  if (c.vm && read_machine (&c, root) == -1) {
    vm_free (c.vm);
    c.vm = NULL;
  }
  if (c.vm && c.vm->disks.len > 1)
    qsort (c.vm->disks.ptr, c.vm->disks.len, sizeof *c.vm->disks.ptr,
           drive_order);
  free (name);
  xmlFreeDoc (doc);
  return c.vm;
}

/* "<preferences" near the start, in UTF-8 or UTF-16LE (BOM FF FE). */
bool
vmc_probe (const char *head, size_t len)
{
  char ascii[1024];
  size_t n = 0;

  if (len >= 2 && (uint8_t) head[0] == 0xFF && (uint8_t) head[1] == 0xFE) {
    for (size_t i = 2; i + 1 < len && n + 1 < sizeof ascii; i += 2)
      ascii[n++] = head[i + 1] ? '?' : head[i];
  }
  else {
    n = MIN (len, sizeof ascii - 1);
    memcpy (ascii, head, n);
  }
  ascii[n] = '\0';
  for (size_t i = 0; i < n; i++)
    if (ascii[i] == '\0')
      ascii[i] = '?';
  return strstr (ascii, "<preferences") != NULL;
}
