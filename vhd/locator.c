/* Differencing parents: reading parent locators to find the parent, and
 * writing them for a new child.
 *
 * Platform codes and payload encodings as written by real products:
 *
 *   code  meaning             payload                 written by
 *   W2ru  relative path       UTF-16LE, ".\x.vhd"     Virtual PC, Hyper-V, blktap, us
 *   W2ku  absolute path       UTF-16LE, "C:\x.vhd"    Virtual PC, Hyper-V, blktap, us
 *   Wi2r  relative (old)      ANSI bytes              Virtual PC 2004 and older
 *   Wi2k  absolute (old)      ANSI bytes              Virtual PC 2004 and older
 *   MacX  file URL            UTF-8 "file://..."      Virtual PC for Mac, blktap
 *   Mac   alias record        opaque                  Virtual PC for Mac (ignored)
 *
 * "Data space" is sectors in the spec but bytes in some Microsoft files;
 * like blktap we read a value below 512 as sectors, a multiple of 512 as
 * bytes.  We write sectors.
 *
 * Search order: relative locators, then absolute ones, then the parent's
 * base name (from the locators and the header's parent name) in the
 * child's own directory -- the case of a chain copied from a Windows host.
 * A candidate is used only if its footer UUID equals the parent UUID
 * recorded in the child's header.
 */
#include <config.h>

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>

#include "vhd-internal.h"

#define LOCATOR_MAX_BYTES (64 * KiB)   /* longer than any real path */

uint32_t
vhd_locator_space_bytes (uint32_t data_space)
{
  if (data_space < 512)
    return data_space * VHD_SECTOR;
  return data_space % VHD_SECTOR == 0 ? data_space : 0;
}

static bool
is_relative_code (uint32_t code)
{
  return code == VHD_PLAT_W2RU || code == VHD_PLAT_WI2R;
}

/* Percent-decode a MacX file URL path in place. */
static void
url_decode (char *s)
{
  char *o = s;

  for (; *s; s++) {
    unsigned v;
    /* Two hex digits, checked first: sscanf alone would also take "%4"
     * at the end of the string (and skip the NUL) or " 4" and "-4". */
    if (s[0] == '%' && isxdigit ((unsigned char) s[1]) &&
        isxdigit ((unsigned char) s[2]) &&
        sscanf (s + 1, "%2x", &v) == 1 && v != 0) {
      *o++ = (char) v;
      s += 2;
    }
    else
      *o++ = *s;
  }
  *o = '\0';
}

/* Decode a payload into a POSIX-ish path (backslashes become slashes). */
static char *
decode_payload (uint32_t code, const uint8_t *p, size_t len)
{
  char *s;

  if (code == VHD_PLAT_W2RU || code == VHD_PLAT_W2KU)
    s = utf16le_to_utf8 (p, len);
  else if (code == VHD_PLAT_WI2R || code == VHD_PLAT_WI2K ||
           code == VHD_PLAT_MACX)
    s = strndup ((const char *) p, len);
  else
    return NULL;
  if (s == NULL)
    return NULL;
  if (code == VHD_PLAT_MACX) {
    const char *rest = strncmp (s, "file://", 7) == 0 ? s + 7 : s;
    if (strncmp (rest, "localhost/", 10) == 0)
      rest += 9;
    memmove (s, rest, strlen (rest) + 1);
    url_decode (s);
  }
  for (char *c = s; *c; c++)
    if (*c == '\\')
      *c = '/';
  return s;
}

static char *
read_locator (struct vhd *v, const struct vhd_locator *l,
              struct vhd_sink *sink, int i)
{
  uint32_t space = vhd_locator_space_bytes (l->data_space);
  uint8_t *buf;
  char *path;

  if (l->data_length == 0 || l->data_length > LOCATOR_MAX_BYTES ||
      l->data_offset > v->file_size ||
      l->data_length > v->file_size - l->data_offset ||
      (space && l->data_length > space)) {
    vhd_problem (sink, HV_E_FORMAT, "parent locator %d: %" PRIu32 " bytes "
                 "at offset %" PRIu64 " do not fit in the file or in its "
                 "data space", i, l->data_length, l->data_offset);
    return NULL;
  }
  buf = malloc (l->data_length);
  if (buf == NULL)
    return NULL;
  if (full_pread (v->fd, buf, l->data_length, l->data_offset) == -1) {
    hv_error (HV_E_IO, "%s: reading parent locator %d: %m", sink->file, i);
    free (buf);
    return NULL;
  }
  path = decode_payload (l->code, buf, l->data_length);
  free (buf);
  return path;
}

/* Join a relative locator path to the child's directory. */
static char *
relative_to_child (const char *child, const char *rel)
{
  char *copy = strdup (child), *out = NULL;

  if (copy == NULL)
    return NULL;
  while (rel[0] == '.' && rel[1] == '/')
    rel += 2;
  if (asprintf (&out, "%s/%s", dirname (copy), rel) == -1)
    out = NULL;
  free (copy);
  return out;
}

static char *
same_directory (const char *child, const char *path)
{
  const char *base = strrchr (path, '/');

  base = base ? base + 1 : path;
  if (*base == '\0' || strcmp (base, "..") == 0 || strcmp (base, ".") == 0)
    return NULL;
  return relative_to_child (child, base);
}

static int
add_candidate (struct string_vector *c, char *path)
{
  if (path == NULL)
    return 0;
  for (size_t i = 0; i < c->len; i++)
    if (strcmp (c->ptr[i], path) == 0) {
      free (path);
      return 0;
    }
  if (string_vector_append (c, path) == -1) {
    free (path);
    return -1;
  }
  return 0;
}

/* A path with a drive letter ("C:/...") only means something on the
 * Windows host that wrote it: only its base name is of use here. */
static bool
has_drive_letter (const char *p)
{
  return p[0] && p[1] == ':';
}

static int
collect_candidates (struct vhd *v, struct vhd_sink *sink,
                    struct string_vector *c)
{
  struct string_vector found = { 0 };
  char *name;
  int r = 0;

  for (int pass = 0; pass < 2 && r == 0; pass++) {
    for (int i = 0; i < VHD_LOCATORS && r == 0; i++) {
      const struct vhd_locator *l = &v->header.loc[i];
      char *p;
      if (l->code == VHD_PLAT_NONE || is_relative_code (l->code) != !pass)
        continue;
      p = read_locator (v, l, sink, i);
      if (p == NULL || string_vector_append (&found, p) == -1) {
        free (p);
        continue;
      }
      if (pass == 0)
        r = add_candidate (c, relative_to_child (v->path, p));
      else if (!has_drive_letter (p))
        r = add_candidate (c, strdup (p));
    }
  }
  name = utf16be_to_utf8 (v->header.parent_name, sizeof v->header.parent_name);
  if (name && string_vector_append (&found, name) == -1)
    free (name);
  for (size_t i = 0; i < found.len && r == 0; i++) {
    for (char *s = found.ptr[i]; *s; s++)
      if (*s == '\\')
        *s = '/';
    r = add_candidate (c, same_directory (v->path, found.ptr[i]));
  }
  for (size_t i = 0; i < found.len; i++)
    free (found.ptr[i]);
  free (found.ptr);
  return r;
}

/* Is this file one of the children already open (a loop)? */
static bool
in_chain (const struct stat *st, const struct stat *chain, int n)
{
  for (int i = 0; i < n; i++)
    if (chain[i].st_dev == st->st_dev && chain[i].st_ino == st->st_ino)
      return true;
  return false;
}

/* Try one candidate.  Returns 1 if it is the parent (opened), 0 if it
 * is not there or not the parent (a note is added to WHY), -1 on an
 * error that must stop the search. */
static int
try_candidate (struct vhd *v, struct vhd_sink *sink, const char *path,
               int depth, struct stat *chain, char **why)
{
  struct vhd_sink quiet = { .file = path };
  struct stat st;
  struct vhd *p;
  char *old = *why;

  if (stat (path, &st) == -1 || !(S_ISREG (st.st_mode) ||
                                   S_ISBLK (st.st_mode)))
    return 0;
  if (in_chain (&st, chain, depth + 1)) {
    vhd_problem (sink, HV_E_PARENT, "differencing chain loops: parent %s "
                 "is already part of the chain", path);
    return -1;
  }
  p = vhd_load (path, 0, &quiet, depth + 1, chain);
  if (p == NULL) {
    /* Reported above under the parent's name; vhd check lists it too. */
    if (sink->list)
      vhd_problem (sink, HV_E_PARENT, "parent %s cannot be opened", path);
    return -1;
  }
  if (memcmp (p->footer.uuid, v->header.parent_uuid, 16) == 0) {
    free (p->path);
    p->path = realpath (path, NULL);
    if (p->path == NULL)
      p->path = strdup (path);
    v->parent = &p->d;
    return 1;
  }
  char u[37];
  uuid_format (p->footer.uuid, u);
  if (asprintf (why, "%s%s%s has UUID %s", old ? old : "", old ? "; " : "",
                path, u) == -1)
    *why = NULL;
  free (old);
  disk_close (&p->d);
  return 0;
}

int
vhd_open_parent (struct vhd *v, struct vhd_sink *sink, int depth,
                 struct stat *chain)
{
  struct string_vector c = { 0 };
  char *why = NULL, want[37];
  int r = 0;

  if (depth + 1 > VHD_MAX_CHAIN) {
    vhd_problem (sink, HV_E_PARENT, "differencing chain is deeper than %d "
                 "disks", VHD_MAX_CHAIN);
    return -1;
  }
  if (collect_candidates (v, sink, &c) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", sink->file);
    r = -1;
  }
  for (size_t i = 0; i < c.len && r == 0; i++)
    r = try_candidate (v, sink, c.ptr[i], depth, chain, &why);
  uuid_format (v->header.parent_uuid, want);
  if (r == 0)
    vhd_problem (sink, HV_E_PARENT, "parent disk with UUID %s not found "
                 "(tried %zu location%s%s%s)", want, c.len,
                 c.len == 1 ? "" : "s", why ? ": " : "", why ? why : "");
  for (size_t i = 0; i < c.len; i++)
    free (c.ptr[i]);
  free (c.ptr);
  free (why);
  return r == 1 ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* Writing locators for a new child. */

/* Length of the leading path component of S (S does not start with /). */
static size_t
component (const char *s)
{
  return strcspn (s, "/");
}

/* Relative path from directory FROM to file TO, both absolute and
 * canonical, in Windows form ".\dir\file" or "..\dir\file". */
static char *
relative_path (const char *from, const char *to)
{
  size_t ups = 0, n;
  char *out, *o;

  from++;
  to++;
  /* Skip the components both share. */
  while (*from && (n = component (from)) == component (to) &&
         strncmp (from, to, n) == 0 && to[n] == '/') {
    from += n + (from[n] == '/');
    to += n + 1;
  }
  for (const char *s = from; *s; s += component (s) + (s[component (s)] == '/'))
    ups++;
  out = malloc (2 + ups * 3 + strlen (to) + 1);
  if (out == NULL)
    return NULL;
  o = out;
  o += sprintf (o, ups ? "" : ".\\");
  for (size_t i = 0; i < ups; i++)
    o += sprintf (o, "..\\");
  for (; *to; to++)
    *o++ = *to == '/' ? '\\' : *to;
  *o = '\0';
  return out;
}

/* Fill locator L with PATH as UTF-16LE at FILE_OFF; append the payload
 * (padded to whole sectors) to BUF. */
static int
add_locator (struct vhd_locator *l, uint32_t code, const char *path,
             uint64_t file_off, uint8_t **buf, size_t *len)
{
  uint8_t utf16[LOCATOR_MAX_BYTES];
  ssize_t n = utf8_to_utf16le (path, utf16, sizeof utf16);
  size_t space;
  uint8_t *p;

  if (n <= 0)
    return -1;
  space = ROUND_UP ((size_t) n, VHD_SECTOR);
  p = realloc (*buf, *len + space);
  if (p == NULL)
    return -1;
  memset (p + *len, 0, space);
  memcpy (p + *len, utf16, n);
  *buf = p;
  *l = (struct vhd_locator) {
    .code = code, .data_space = space / VHD_SECTOR, .data_length = n,
    .data_offset = file_off + *len,
  };
  *len += space;
  return 0;
}

int
vhd_build_locators (const char *child_final, const char *parent,
                    struct vhd_header *h, uint64_t first_free,
                    uint8_t **payload, size_t *payload_len)
{
  char *abs_parent = realpath (parent, NULL);
  char *child_copy = strdup (child_final);
  char *child_dir = child_copy ? realpath (dirname (child_copy), NULL) : NULL;
  char *rel = NULL;
  int r = -1;

  *payload = NULL;
  *payload_len = 0;
  if (abs_parent == NULL || child_dir == NULL) {
    hv_error (HV_E_IO, "%s: resolving the parent path %s: %m", child_final,
              parent);
    goto out;
  }
  rel = relative_path (child_dir, abs_parent);
  if (rel == NULL ||
      add_locator (&h->loc[0], VHD_PLAT_W2RU, rel, first_free,
                   payload, payload_len) == -1 ||
      add_locator (&h->loc[1], VHD_PLAT_W2KU, abs_parent, first_free,
                   payload, payload_len) == -1) {
    hv_error (HV_E_FORMAT, "%s: cannot record parent path %s: %m",
              child_final, abs_parent);
    goto out;
  }
  /* The header's parent name is the parent's file name, as the spec
   * says: libvhdi's vhdimount joins it to the child's directory, and the
   * locators carry the paths. */
  memset (h->parent_name, 0, sizeof h->parent_name);
  if (utf8_to_utf16be (strrchr (abs_parent, '/') + 1, h->parent_name,
                       sizeof h->parent_name) == -1) {
    hv_error (HV_E_FORMAT, "%s: parent name too long", child_final);
    goto out;
  }
  r = 0;
 out:
  if (r == -1) {
    free (*payload);
    *payload = NULL;
  }
  free (abs_parent);
  free (child_copy);
  free (child_dir);
  free (rel);
  return r;
}
