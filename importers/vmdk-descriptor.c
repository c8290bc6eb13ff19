/* The VMDK text descriptor: a small "key=value" file with extent lines.
 *
 *   # Disk DescriptorFile
 *   version=1
 *   CID=fffffffe
 *   parentCID=ffffffff
 *   createType="twoGbMaxExtentSparse"
 *   parentFileNameHint="base.vmdk"            (delta disks only)
 *   RW 4192256 SPARSE "disk-s001.vmdk"
 *   RW 1048576 FLAT "disk-flat.vmdk" 0
 *   RW 2048 ZERO
 *   ddb.adapterType = "lsilogic"
 *
 * The text is hostile like any input: it is bounded by the caller
 * (VMDK_DESC_MAX), lines may end in LF or CRLF, values may be quoted or
 * not, keys are matched without regard to case, and "#" starts a
 * comment line.  Lines we do not understand are ignored with one
 * warning; a malformed extent line or CID is an error, since guessing
 * would change what the disk holds.
 */
#include <config.h>

#include <limits.h>
#include <strings.h>

#include "vmdk-internal.h"

static const struct {
  const char *name;
  enum vmdk_extent_type type;
} extent_types[] = {
  { "FLAT", VMDK_EXTENT_FLAT },
  { "VMFS", VMDK_EXTENT_VMFS },
  { "SPARSE", VMDK_EXTENT_SPARSE },
  { "ZERO", VMDK_EXTENT_ZERO },
  { "VMFSSPARSE", VMDK_EXTENT_VMFSSPARSE },
  { "SESPARSE", VMDK_EXTENT_SESPARSE },
  { "VMFSRDM", VMDK_EXTENT_VMFSRDM },
  { "VMFSRAW", VMDK_EXTENT_VMFSRAW },
};

static const char *const access_names[] = {
  [VMDK_RW] = "RW", [VMDK_RDONLY] = "RDONLY", [VMDK_NOACCESS] = "NOACCESS",
};

/* What a user can do with the kinds of VMDK we refuse. */
#define ADVICE_COWD "ESX COWD sparse disks (vmfsSparse, vmfsThin) are not " \
  "supported: consolidate the VM's snapshots, or clone the disk to a flat " \
  "one on the host (vmkfstools -i SRC DST -d thin), and convert that"
#define ADVICE_SESPARSE "ESXi SE sparse snapshot disks (seSparse) are not " \
  "supported: consolidate the VM's snapshots, or clone the disk to a flat " \
  "one on the host (vmkfstools -i SRC DST -d thin), and convert that"
#define ADVICE_DEVICE "the disk is a raw device mapping or a physical " \
  "device, whose data is not in the VMDK files: convert the device " \
  "itself (hvconvert disk /dev/sdX DST.vhd on a host that sees it)"

/* createType values we refuse, and why (VMware's names; matched without
 * regard to case, as VMware does). */
static const struct {
  const char *name;
  const char *advice;
} refused_types[] = {
  { "vmfsSparse", ADVICE_COWD },
  { "vmfsThin", ADVICE_COWD },
  { "seSparse", ADVICE_SESPARSE },
  { "vmfsRDM", ADVICE_DEVICE },
  { "vmfsRDMP", ADVICE_DEVICE },
  { "vmfsRaw", ADVICE_DEVICE },
  { "vmfsRawDeviceMap", ADVICE_DEVICE },
  { "vmfsPassthroughRawDeviceMap", ADVICE_DEVICE },
  { "fullDevice", ADVICE_DEVICE },
  { "partitionedDevice", ADVICE_DEVICE },
};

/* createType values we read.  The vmfs* thick types are flat VMFS
 * extents; "custom" is whatever its extent lines say. */
static const char *const known_types[] = {
  "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
  "twoGbMaxExtentFlat", "streamOptimized", "vmfs", "vmfsPreallocated",
  "vmfsEagerZeroedThick", "custom",
};

const char *
vmdk_extent_type_name (enum vmdk_extent_type t)
{
  for (size_t i = 0; i < ARRAY_SIZE (extent_types); i++)
    if (extent_types[i].type == t)
      return extent_types[i].name;
  return "?";
}

int
vmdk_check_create_type (const char *file, const char *create_type)
{
  for (size_t i = 0; i < ARRAY_SIZE (refused_types); i++) {
    if (strcasecmp (create_type, refused_types[i].name) == 0) {
      hv_error (HV_E_UNSUPPORTED, "%s: createType \"%s\": %s", file,
                create_type, refused_types[i].advice);
      return -1;
    }
  }
  for (size_t i = 0; i < ARRAY_SIZE (known_types); i++)
    if (strcasecmp (create_type, known_types[i]) == 0)
      return 0;
  hv_warning (HV_E_UNSUPPORTED, "%s: unknown createType \"%s\"; reading the "
              "extents the descriptor lists", file, create_type);
  return 0;
}

int
vmdk_check_extent (const char *file, const struct vmdk_desc_extent *e)
{
  const char *advice = NULL;

  switch (e->type) {
  case VMDK_EXTENT_VMFSSPARSE: advice = ADVICE_COWD; break;
  case VMDK_EXTENT_SESPARSE: advice = ADVICE_SESPARSE; break;
  case VMDK_EXTENT_VMFSRDM:
  case VMDK_EXTENT_VMFSRAW: advice = ADVICE_DEVICE; break;
  default: break;
  }
  if (advice) {
    hv_error (HV_E_UNSUPPORTED, "%s: descriptor line %u: a %s extent: %s",
              file, e->line, vmdk_extent_type_name (e->type), advice);
    return -1;
  }
  if (e->access == VMDK_NOACCESS) {
    hv_error (HV_E_UNSUPPORTED, "%s: descriptor line %u: the extent is "
              "marked NOACCESS, so its data cannot be read", file, e->line);
    return -1;
  }
  return 0;
}

bool
vmdk_looks_like_descriptor (const uint8_t *buf, size_t len)
{
  static const char magic[] = "# Disk DescriptorFile";
  size_t i = 0;

  if (len >= 3 && memcmp (buf, "\xef\xbb\xbf", 3) == 0)
    i = 3;
  while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
                     buf[i] == '\n'))
    i++;
  return len - i >= sizeof magic - 1 &&
         strncasecmp ((const char *) buf + i, magic, sizeof magic - 1) == 0;
}

/* ---------------------------------------------------------------- */
/* Lines and tokens. */

struct parser {
  const char *file;
  unsigned line;
  struct vmdk_desc *d;
  bool warned;                  /* about an unknown line */
  bool failed;                  /* next_token reported an error */
};

static bool
is_blank (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Trim blanks at both ends of S in place; returns the new start. */
static char *
trim (char *s)
{
  size_t n;

  while (is_blank (*s))
    s++;
  n = strlen (s);
  while (n > 0 && is_blank (s[n - 1]))
    s[--n] = '\0';
  return s;
}

/* The next token of *P: a "quoted string" (quotes removed) or a run of
 * non-blanks.  NULL at the end of the line, or (reported) for an
 * unterminated quote. */
static char *
next_token (struct parser *ps, char **p, bool *quoted)
{
  char *s = *p, *end;

  while (is_blank (*s))
    s++;
  *quoted = *s == '"';
  if (*s == '\0')
    return NULL;
  if (*quoted) {
    end = strchr (++s, '"');
    if (end == NULL) {
      hv_error (HV_E_FORMAT, "%s: descriptor line %u: unterminated quote",
                ps->file, ps->line);
      ps->failed = true;
      *p = s + strlen (s);
      return NULL;
    }
  }
  else {
    end = s;
    while (*end && !is_blank (*end))
      end++;
  }
  if (*end)
    *end++ = '\0';
  *p = end;
  return s;
}

/* A decimal number, all of S, at most MAX. */
static bool
parse_dec (const char *s, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;

  if (*s == '\0')
    return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || ckd_mul (&v, v, (uint64_t) 10) ||
        ckd_add (&v, v, (uint64_t) (*s - '0')))
      return false;
  }
  if (v > max)
    return false;
  *out = v;
  return true;
}

/* A CID: 1 to 8 hexadecimal digits, all of S. */
static bool
parse_cid (const char *s, uint32_t *out)
{
  uint32_t v = 0;
  size_t n = strlen (s);

  if (n == 0 || n > 8)
    return false;
  for (; *s; s++) {
    int c = *s;
    int digit = c >= '0' && c <= '9' ? c - '0'
      : c >= 'a' && c <= 'f' ? c - 'a' + 10
      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0)
      return false;
    v = v << 4 | (uint32_t) digit;
  }
  *out = v;
  return true;
}

static int
bad_line (struct parser *ps, const char *what, const char *value)
{
  hv_error (HV_E_FORMAT, "%s: descriptor line %u: %s '%s'", ps->file,
            ps->line, what, value);
  return -1;
}

/* ---------------------------------------------------------------- */
/* Extent lines: ACCESS SECTORS TYPE ["FILE" [OFFSET]]. */

static int
access_of (const char *word)
{
  for (size_t i = 0; i < ARRAY_SIZE (access_names); i++)
    if (strcasecmp (word, access_names[i]) == 0)
      return (int) i;
  return -1;
}

static int
type_of (struct parser *ps, const char *word, enum vmdk_extent_type *t)
{
  for (size_t i = 0; i < ARRAY_SIZE (extent_types); i++) {
    if (strcasecmp (word, extent_types[i].name) == 0) {
      *t = extent_types[i].type;
      return 0;
    }
  }
  hv_error (HV_E_UNSUPPORTED, "%s: descriptor line %u: unknown extent type "
            "'%s'", ps->file, ps->line, word);
  return -1;
}

/* The file name and offset after the type, as the type allows them. */
static int
extent_file (struct parser *ps, char **p, struct vmdk_desc_extent *e)
{
  bool quoted;
  char *name = next_token (ps, p, &quoted), *off, *rest;

  if (ps->failed)
    return -1;
  if (name == NULL && e->type == VMDK_EXTENT_ZERO)
    return 0;                   /* ZERO extents name no file */
  if (name == NULL)
    return bad_line (ps, "extent without a file name", "");
  if (name[0] == '\0' || strlen (name) >= PATH_MAX)
    return bad_line (ps, "bad extent file name", name);
  off = next_token (ps, p, &quoted);
  rest = off ? next_token (ps, p, &quoted) : NULL;
  if (ps->failed)
    return -1;
  if (rest)
    return bad_line (ps, "unexpected text after the extent", rest);
  if (off && e->type != VMDK_EXTENT_FLAT && e->type != VMDK_EXTENT_VMFS)
    return bad_line (ps, "only FLAT and VMFS extents take an offset", off);
  if (off && !parse_dec (off, UINT64_MAX / VMDK_SECTOR, &e->offset))
    return bad_line (ps, "bad extent offset", off);
  if (e->type != VMDK_EXTENT_ZERO && (e->file = strdup (name)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", ps->file);
    return -1;
  }
  return 0;
}

static int
parse_extent (struct parser *ps, char *p, int access)
{
  struct vmdk_desc_extent e = { .access = access, .line = ps->line };
  bool quoted;
  char *sectors, *type;

  next_token (ps, &p, &quoted);                 /* the access word */
  sectors = next_token (ps, &p, &quoted);
  type = sectors ? next_token (ps, &p, &quoted) : NULL;
  if (ps->failed)
    return -1;
  if (type == NULL)
    return bad_line (ps, "incomplete extent line", sectors ? sectors : "");
  if (!parse_dec (sectors, UINT64_MAX / VMDK_SECTOR, &e.sectors) ||
      e.sectors == 0)
    return bad_line (ps, "bad extent size in sectors", sectors);
  if (type_of (ps, type, &e.type) == -1 || extent_file (ps, &p, &e) == -1)
    return -1;
  if (vmdk_desc_extents_append (&ps->d->extents, e) == -1) {
    free (e.file);
    hv_error (HV_E_NOMEM, "%s: %m", ps->file);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* key=value lines. */

static int
set_string (struct parser *ps, char **field, const char *value)
{
  free (*field);
  *field = strdup (value);
  if (*field == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", ps->file);
    return -1;
  }
  return 0;
}

static int
set_key (struct parser *ps, const char *key, const char *value)
{
  struct vmdk_desc *d = ps->d;
  uint64_t v;

  if (strcasecmp (key, "version") == 0) {
    if (!parse_dec (value, UINT32_MAX, &v))
      return bad_line (ps, "bad version", value);
    d->version = (unsigned) v;
  }
  else if (strcasecmp (key, "CID") == 0) {
    if (!parse_cid (value, &d->cid))
      return bad_line (ps, "CID is not a hexadecimal number:", value);
    d->has_cid = true;
  }
  else if (strcasecmp (key, "parentCID") == 0) {
    if (!parse_cid (value, &d->parent_cid))
      return bad_line (ps, "parentCID is not a hexadecimal number:", value);
    d->has_parent_cid = true;
  }
  else if (strcasecmp (key, "createType") == 0)
    return set_string (ps, &d->create_type, value);
  else if (strcasecmp (key, "parentFileNameHint") == 0)
    return set_string (ps, &d->parent_hint, value);
  return 0;                     /* ddb.*, encoding, ...: not needed */
}

/* KEY = VALUE or KEY = "VALUE"; text after a closing quote is an error. */
static int
parse_assignment (struct parser *ps, char *line, char *eq)
{
  char *key, *value, *close;

  *eq = '\0';
  key = trim (line);
  value = trim (eq + 1);
  if (value[0] == '"') {
    close = strchr (++value, '"');
    if (close == NULL)
      return bad_line (ps, "unterminated quote in the value of", key);
    *close = '\0';
    if (trim (close + 1)[0] != '\0')
      return bad_line (ps, "text after the quoted value of", key);
  }
  return set_key (ps, key, value);
}

static void
unknown_line (struct parser *ps, const char *line)
{
  if (ps->warned)
    return;
  ps->warned = true;
  hv_warning (HV_E_FORMAT, "%s: descriptor line %u not understood, "
              "ignored: '%.60s'", ps->file, ps->line, line);
}

static int
parse_line (struct parser *ps, char *line)
{
  char word[16];
  char *eq;
  size_t n;
  int access;

  line = trim (line);
  if (line[0] == '\0' || line[0] == '#')
    return 0;
  n = strcspn (line, " \t");
  if (n < sizeof word) {
    memcpy (word, line, n);
    word[n] = '\0';
    if ((access = access_of (word)) >= 0 && line[n] != '\0')
      return parse_extent (ps, line, access);
  }
  eq = strchr (line, '=');
  if (eq && eq != line)
    return parse_assignment (ps, line, eq);
  unknown_line (ps, line);
  return 0;
}

int
vmdk_desc_parse (const char *file, const char *text, size_t len,
                 struct vmdk_desc *d)
{
  struct parser ps = { .file = file, .d = d };
  char *copy, *p, *nl;
  int r = 0;

  *d = (struct vmdk_desc) { 0 };
  len = strnlen (text, len);          /* an embedded one ends at a NUL */
  copy = malloc (len + 1);
  if (copy == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", file);
    return -1;
  }
  memcpy (copy, text, len);
  copy[len] = '\0';
  p = copy;
  if (strncmp (p, "\xef\xbb\xbf", 3) == 0)  /* a UTF-8 byte order mark */
    p += 3;
  for (; r == 0 && p; p = nl ? nl + 1 : NULL) {
    nl = strchr (p, '\n');
    if (nl)
      *nl = '\0';
    ps.line++;
    r = parse_line (&ps, p);
  }
  free (copy);
  return r;
}

void
vmdk_desc_free (struct vmdk_desc *d)
{
  for (size_t i = 0; i < d->extents.len; i++)
    free (d->extents.ptr[i].file);
  free (d->extents.ptr);
  free (d->create_type);
  free (d->parent_hint);
  *d = (struct vmdk_desc) { 0 };
}
