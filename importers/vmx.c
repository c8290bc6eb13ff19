/* VMware machines (.vmx): `key = "value"` lines (FORMATS.md section 7).
 *
 * Keys are case-insensitive; values are quoted, with |22-style escapes
 * for quotes written by newer versions (|XX = the byte 0xXX).  We read
 * memory, vCPUs, firmware, the guest OS, the disks and CD images on the
 * ide/scsi/sata/nvme buses, the floppy image and the NICs.  A disk's
 * file is usually a VMDK descriptor; a snapshot delta (NAME-000001.vmdk)
 * is read through its parent chain by the VMDK importer, so the
 * converted disk is the machine's current state.  Files are resolved
 * beside the .vmx through the safe related-path rule.
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include "importers.h"

#define VMX_MAX_FILE   (4 * MiB)
#define VMX_MAX_PAIRS  100000
#define VMX_MAX_MEMORY_MIB (12 * 1024 * 1024)
#define VMX_MAX_VCPUS  1024

struct pair {
  char *key;          /* lower case */
  char *value;
};
DEFINE_VECTOR (pair_vector, struct pair)

struct vmx {
  const char *file;
  unsigned flags;
  struct pair_vector pairs;
  struct vm *vm;
};

/* ---------------------------------------------------------------- */
/* Parsing. */

/* Decode VMware's |XX escapes in place. */
static void
unescape (char *s)
{
  char *out = s;

  for (; *s; s++) {
    if (s[0] == '|' && isxdigit ((unsigned char) s[1]) &&
        isxdigit ((unsigned char) s[2])) {
      char hex[3] = { s[1], s[2], '\0' };
      *out++ = (char) strtol (hex, NULL, 16);
      s += 2;
    }
    else
      *out++ = *s;
  }
  *out = '\0';
}

static char *
trim (char *s)
{
  char *e;

  s += strspn (s, " \t");
  e = s + strlen (s);
  while (e > s && strchr (" \t\r", e[-1]))
    *--e = '\0';
  return s;
}

/* One line: `key = "value"` (quotes optional).  Returns 0 (added or a
 * blank/comment line) or -1 after reporting. */
static int
parse_line (struct vmx *x, char *line, unsigned lineno)
{
  char *eq, *key, *value;
  struct pair p;

  line = trim (line);
  if (*line == '\0' || *line == '#')
    return 0;
  eq = strchr (line, '=');
  if (eq == NULL) {
    hv_error (HV_E_FORMAT, "%s: line %u: no '=' in '%.40s'", x->file,
              lineno, line);
    return -1;
  }
  *eq = '\0';
  key = trim (line);
  value = trim (eq + 1);
  if (*value == '"') {
    size_t n = strlen (value);
    if (n < 2 || value[n - 1] != '"') {
      hv_error (HV_E_FORMAT, "%s: line %u: unterminated quote in the value "
                "of %s", x->file, lineno, key);
      return -1;
    }
    value[n - 1] = '\0';
    value++;
  }
  unescape (value);
  for (char *k = key; *k; k++)
    *k = (char) tolower ((unsigned char) *k);
  if (x->pairs.len >= VMX_MAX_PAIRS) {
    hv_error (HV_E_TOO_LARGE, "%s: more than %d settings", x->file,
              VMX_MAX_PAIRS);
    return -1;
  }
  p.key = strdup (key);
  p.value = strdup (value);
  if (p.key == NULL || p.value == NULL ||
      pair_vector_append (&x->pairs, p) == -1) {
    free (p.key);
    free (p.value);
    hv_error (HV_E_NOMEM, "%s: %m", x->file);
    return -1;
  }
  return 0;
}

static int
parse (struct vmx *x, char *buf, size_t len)
{
  unsigned lineno = 0;
  char *line = buf, *nl;

  if (memchr (buf, '\0', len)) {
    hv_error (HV_E_FORMAT, "%s: contains NUL bytes: not a .vmx text file",
              x->file);
    return -1;
  }
  for (; line && *line; line = nl) {
    nl = strchr (line, '\n');
    if (nl)
      *nl++ = '\0';
    if (parse_line (x, line, ++lineno) == -1)
      return -1;
  }
  return 0;
}

/* The value of KEY (lower case), NULL if absent.  The last one wins, as
 * in VMware. */
static const char *
get (const struct vmx *x, const char *key)
{
  for (size_t i = x->pairs.len; i-- > 0;)
    if (strcmp (x->pairs.ptr[i].key, key) == 0)
      return x->pairs.ptr[i].value;
  return NULL;
}

static bool
is_true (const char *v)
{
  return v && (strcasecmp (v, "true") == 0 || strcasecmp (v, "TRUE") == 0);
}

/* An integer setting within [MIN, MAX]: 1 and *OUT, 0 absent, -1. */
static int
get_int (struct vmx *x, const char *key, long min, long max, long *out)
{
  const char *v = get (x, key);
  char *end;
  long n;

  if (v == NULL || *v == '\0')
    return 0;
  errno = 0;
  n = strtol (v, &end, 10);
  if (errno || *end || n < min || n > max) {
    hv_error (HV_E_FORMAT, "%s: %s = \"%s\": expected a number from %ld to "
              "%ld", x->file, key, v, min, max);
    return -1;
  }
  *out = n;
  return 1;
}

/* ---------------------------------------------------------------- */
/* Devices. */

static const struct {
  const char *prefix;
  enum vm_bus bus;
  unsigned controllers, units;
} buses[] = {
  { "ide", VM_BUS_IDE, 2, 2 },
  { "scsi", VM_BUS_SCSI, 4, 16 },
  { "sata", VM_BUS_SATA, 4, 30 },
  { "nvme", VM_BUS_NVME, 4, 15 },
};

/* The file of a drive, resolved and checked to be a regular file. */
static char *
drive_file (struct vmx *x, const char *name, const char *what)
{
  char *path = importer_related_path (x->file, name, x->flags, what);
  struct stat st;

  if (path && stat (path, &st) == -1) {
    hv_error (HV_E_IO, "%s: %s %s: %m", x->file, what, name);
    free (path);
    return NULL;
  }
  if (path && !S_ISREG (st.st_mode)) {
    hv_error (HV_E_UNSAFE, "%s: %s %s is not a regular file", x->file, what,
              name);
    free (path);
    return NULL;
  }
  return path;
}

/* busN:U.* for one position.  deviceType says disk or CD (a .vmdk or no
 * type: disk; an .iso image: CD; host CD drives are left empty). */
static int
read_drive (struct vmx *x, const char *base, struct vm_disk *d)
{
  char key[64];
  const char *file, *type;
  char *path = NULL;
  int r;

  snprintf (key, sizeof key, "%s.present", base);
  if (!is_true (get (x, key)))
    return 0;
  snprintf (key, sizeof key, "%s.filename", base);
  file = get (x, key);
  snprintf (key, sizeof key, "%s.devicetype", base);
  type = get (x, key);
  d->media = type && strstr (type, "cdrom") ? VM_MEDIA_CDROM : VM_MEDIA_DISK;
  if (d->media == VM_MEDIA_DISK && (file == NULL || *file == '\0')) {
    hv_error (HV_E_FORMAT, "%s: %s is a disk without a fileName", x->file,
              base);
    return -1;
  }
  if (d->media == VM_MEDIA_CDROM &&
      (type == NULL || strcmp (type, "cdrom-image") != 0 || file == NULL))
    file = NULL;                 /* a host drive: left empty */
  if (file && (path = drive_file (x, file, d->media == VM_MEDIA_DISK
                                  ? "disk" : "CD image")) == NULL)
    return -1;
  d->path = path;
  r = vm_add_disk (x->vm, d);
  free (path);
  return r;
}

static int
read_drives (struct vmx *x)
{
  char base[32], key[48];

  for (size_t b = 0; b < ARRAY_SIZE (buses); b++)
    for (unsigned c = 0; c < buses[b].controllers; c++) {
      snprintf (key, sizeof key, "%s%u.present", buses[b].prefix, c);
      if (buses[b].bus != VM_BUS_IDE && !is_true (get (x, key)))
        continue;
      for (unsigned u = 0; u < buses[b].units; u++) {
        struct vm_disk d = { .bus = buses[b].bus, .controller = c,
                             .slot = u };
        snprintf (base, sizeof base, "%s%u:%u", buses[b].prefix, c, u);
        if (read_drive (x, base, &d) == -1)
          return -1;
      }
    }
  return 0;
}

static int
read_floppy (struct vmx *x)
{
  const char *type = get (x, "floppy0.filetype");
  const char *file = get (x, "floppy0.filename");
  struct vm_disk d = { .media = VM_MEDIA_FLOPPY };
  int r;

  if (!is_true (get (x, "floppy0.present")) || file == NULL ||
      type == NULL || strcmp (type, "file") != 0)
    return 0;
  if ((d.path = drive_file (x, file, "floppy image")) == NULL)
    return -1;
  r = vm_add_disk (x->vm, &d);
  free (d.path);
  return r;
}

static int
read_nics (struct vmx *x)
{
  char key[48];

  for (unsigned i = 0; i < 10; i++) {
    struct vm_nic n = { 0 };
    const char *atype;
    snprintf (key, sizeof key, "ethernet%u.present", i);
    if (!is_true (get (x, key)))
      continue;
    snprintf (key, sizeof key, "ethernet%u.addresstype", i);
    atype = get (x, key);
    snprintf (key, sizeof key, "ethernet%u.%s", i,
              atype && strcasecmp (atype, "static") == 0 ? "address"
              : "generatedaddress");
    n.mac = (char *) get (x, key);
    snprintf (key, sizeof key, "ethernet%u.networkname", i);
    n.network = (char *) get (x, key);
    snprintf (key, sizeof key, "ethernet%u.virtualdev", i);
    n.model = (char *) get (x, key);
    if (vm_add_nic (x->vm, &n) == -1)
      return -1;
  }
  return 0;
}

static int
read_machine (struct vmx *x)
{
  long mem, cpus;
  const char *fw = get (x, "firmware");
  const char *os = get (x, "guestos");
  int r;

  if ((r = get_int (x, "memsize", 4, VMX_MAX_MEMORY_MIB, &mem)) == -1)
    return -1;
  if (r == 1)
    x->vm->memory = (uint64_t) mem * MiB;
  if ((r = get_int (x, "numvcpus", 1, VMX_MAX_VCPUS, &cpus)) == -1)
    return -1;
  if (r == 1)
    x->vm->vcpus = (unsigned) cpus;
  if (fw && strcasecmp (fw, "efi") == 0)
    x->vm->firmware = VM_FIRMWARE_UEFI;
  if (os && (x->vm->guest_os = strdup (os)) == NULL)
    return -1;
  return read_drives (x) == 0 && read_floppy (x) == 0 &&
    read_nics (x) == 0 ? 0 : -1;
}

/* displayName, else the file name without .vmx. */
static char *
machine_name (struct vmx *x)
{
  const char *dn = get (x, "displayname");
  char *copy, *base, *name;
  size_t n;

  if (dn && *dn)
    return strdup (dn);
  if ((copy = strdup (x->file)) == NULL)
    return NULL;
  base = basename (copy);
  n = strlen (base);
  if (n > 4 && strcasecmp (base + n - 4, ".vmx") == 0)
    base[n - 4] = '\0';
  name = strdup (base);
  free (copy);
  return name;
}

static void
free_pairs (struct vmx *x)
{
  for (size_t i = 0; i < x->pairs.len; i++) {
    free (x->pairs.ptr[i].key);
    free (x->pairs.ptr[i].value);
  }
  free (x->pairs.ptr);
}

struct vm *
vmx_load (const char *filename, unsigned flags)
{
  struct vmx x = { .file = filename, .flags = flags };
  char *buf, *name = NULL;
  size_t len;

  if (importer_read_file (filename, VMX_MAX_FILE, &buf, &len) == -1)
    return NULL;
  if (parse (&x, buf, len) == 0 && (name = machine_name (&x)) != NULL)
    x.vm = vm_new (name, filename, "vmx");
  if (x.vm && read_machine (&x) == -1) {
    vm_free (x.vm);
    x.vm = NULL;
  }
  free (name);
  free (buf);
  free_pairs (&x);
  return x.vm;
}

/* `config.version`, `virtualHW.version` or `.encoding` in the first
 * lines of a text file. */
bool
vmx_probe (const char *head, size_t len)
{
  char text[4097];

  len = MIN (len, sizeof text - 1);
  memcpy (text, head, len);
  text[len] = '\0';
  if (strlen (text) != len)      /* binary */
    return false;
  for (char *p = text; *p; p++)
    *p = (char) tolower ((unsigned char) *p);
  return strstr (text, "config.version") || strstr (text, "virtualhw.version")
    || strstr (text, ".encoding = ");
}
