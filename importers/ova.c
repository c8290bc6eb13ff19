/* OVA packages: a tar (also gzip- or xz-compressed) holding an OVF
 * descriptor, an optional manifest (.mf) and the disk images.
 *
 * Read with libarchive as a stream, entry by entry, never extracted to
 * paths the archive chooses: an entry named with "..", an absolute
 * path, a link or anything but a regular file is refused, and so is a
 * name seen twice.  Every entry's bytes are hashed (SHA-1 and SHA-256,
 * OpenSSL) as they are read, so the manifest is checked in the same
 * single pass that converts the disks.
 */
#include <config.h>

#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <zlib.h>

#include "importers.h"

#define OVA_MAX_ENTRIES 10000
#define OVA_MAX_NAME    1024

struct ova {
  char *file;
  struct archive *a;
  char *entry;               /* the current entry's name */
  int64_t entry_size;
  uint64_t entry_read;
  EVP_MD_CTX *sha1, *sha256;
  bool want_sha1, want_sha256;    /* for the entries to come */
  bool doing_sha1, doing_sha256;  /* for the current entry */
  struct string_vector seen;
  struct ova_digest_vector digests;   /* of the entries read to the end */
};

static int
archive_fail (struct ova *o, const char *what)
{
  hv_error (HV_E_FORMAT, "%s: %s: %s", o->file, what,
            archive_error_string (o->a) ? archive_error_string (o->a)
            : "not a tar archive");
  return -1;
}

struct ova *
ova_open (const char *filename)
{
  struct ova *o = calloc (1, sizeof *o);

  if (o == NULL || (o->file = strdup (filename)) == NULL ||
      (o->a = archive_read_new ()) == NULL ||
      (o->sha1 = EVP_MD_CTX_new ()) == NULL ||
      (o->sha256 = EVP_MD_CTX_new ()) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", filename);
    ova_close (o);
    return NULL;
  }
  o->want_sha1 = o->want_sha256 = true;
  /* tar only (ustar, pax, GNU), raw or gzip/xz/bzip2-compressed. */
  archive_read_support_format_tar (o->a);
  archive_read_support_filter_gzip (o->a);
  archive_read_support_filter_xz (o->a);
  archive_read_support_filter_bzip2 (o->a);
  if (archive_read_open_filename (o->a, filename, 1024 * 1024) !=
      ARCHIVE_OK) {
    archive_fail (o, "opening the OVA");
    ova_close (o);
    return NULL;
  }
  return o;
}

/* A name an OVA may hold: relative, no "..", no directories' tricks. */
static bool
safe_name (const char *name)
{
  const char *p = name;

  if (*name == '\0' || *name == '/' || strlen (name) > OVA_MAX_NAME)
    return false;
  while (*p) {
    size_t n = strcspn (p, "/\\");
    if ((n == 2 && p[0] == '.' && p[1] == '.') || n == 0)
      return false;
    p += n;
    if (*p)
      p++;
  }
  return true;
}

static int
check_entry (struct ova *o, struct archive_entry *e, const char *name)
{
  if (!safe_name (name)) {
    hv_error (HV_E_UNSAFE, "%s: entry '%s': absolute, empty or with '..'; "
              "refusing it", o->file, name);
    return -1;
  }
  if (archive_entry_filetype (e) != AE_IFREG || archive_entry_hardlink (e) ||
      archive_entry_symlink (e)) {
    hv_error (HV_E_UNSAFE, "%s: entry '%s' is a link or not a regular file; "
              "refusing it", o->file, name);
    return -1;
  }
  for (size_t i = 0; i < o->seen.len; i++)
    if (strcmp (o->seen.ptr[i], name) == 0) {
      hv_error (HV_E_FORMAT, "%s: entry '%s' appears twice", o->file, name);
      return -1;
    }
  if (o->seen.len >= OVA_MAX_ENTRIES) {
    hv_error (HV_E_TOO_LARGE, "%s: more than %d entries", o->file,
              OVA_MAX_ENTRIES);
    return -1;
  }
  return 0;
}

int
ova_next (struct ova *o, const char **name, uint64_t *size)
{
  struct archive_entry *e;
  int r = archive_read_next_header (o->a, &e);
  char *copy;

  if (r == ARCHIVE_EOF)
    return 0;
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
    return archive_fail (o, "reading the next entry");
  *name = archive_entry_pathname (e);
  if (*name == NULL || check_entry (o, e, *name) == -1)
    return -1;
  if ((copy = strdup (*name)) == NULL ||
      string_vector_append (&o->seen, copy) == -1) {
    free (copy);
    hv_error (HV_E_NOMEM, "%s: %m", o->file);
    return -1;
  }
  o->entry = copy;
  o->entry_size = archive_entry_size (e);
  o->entry_read = 0;
  *name = copy;
  *size = o->entry_size > 0 ? (uint64_t) o->entry_size : 0;
  o->doing_sha1 = o->want_sha1;
  o->doing_sha256 = o->want_sha256;
  if (o->doing_sha1)
    EVP_DigestInit_ex (o->sha1, EVP_sha1 (), NULL);
  if (o->doing_sha256)
    EVP_DigestInit_ex (o->sha256, EVP_sha256 (), NULL);
  return 1;
}

/* Keep the digests of an entry read to its end. */
static int
finish_entry (struct ova *o)
{
  struct ova_digest d = { .name = o->entry };
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len;

  if (o->doing_sha1 && EVP_DigestFinal_ex (o->sha1, md, &len))
    for (unsigned i = 0; i < len; i++)
      snprintf (d.sha1 + 2 * i, 3, "%02x", md[i]);
  if (o->doing_sha256 && EVP_DigestFinal_ex (o->sha256, md, &len))
    for (unsigned i = 0; i < len; i++)
      snprintf (d.sha256 + 2 * i, 3, "%02x", md[i]);
  if (ova_digest_vector_append (&o->digests, d) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", o->file);
    return -1;
  }
  return 0;
}

ssize_t
ova_read (struct ova *o, void *buf, size_t n)
{
  la_ssize_t r = archive_read_data (o->a, buf, n);

  if (r < 0) {
    archive_fail (o, o->entry);
    return -1;
  }
  if (o->doing_sha1)
    EVP_DigestUpdate (o->sha1, buf, r);
  if (o->doing_sha256)
    EVP_DigestUpdate (o->sha256, buf, r);
  o->entry_read += r;
  if (r == 0 && finish_entry (o) == -1)
    return -1;
  return r;
}

int
ova_read_full (void *opaque, void *buf, size_t n)
{
  struct ova *o = opaque;
  uint8_t *p = buf;

  while (n > 0) {
    ssize_t r = ova_read (o, p, n);
    if (r == -1)
      return -1;
    if (r == 0) {
      hv_error (HV_E_FORMAT, "%s: entry '%s' ends early (after %" PRIu64
                " bytes)", o->file, o->entry, o->entry_read);
      return -1;
    }
    p += r;
    n -= r;
  }
  return 0;
}

int
ova_drain (struct ova *o)
{
  uint8_t buf[64 * 1024];
  ssize_t r;

  while ((r = ova_read (o, buf, sizeof buf)) > 0)
    ;
  return r == 0 ? 0 : -1;
}

const struct ova_digest *
ova_digest (const struct ova *o, const char *name)
{
  for (size_t i = 0; i < o->digests.len; i++)
    if (strcmp (o->digests.ptr[i].name, name) == 0)
      return &o->digests.ptr[i];
  return NULL;
}

void
ova_want_digests (struct ova *o, bool sha1, bool sha256)
{
  o->want_sha1 = sha1;
  o->want_sha256 = sha256;
}

const char *
ova_filename (const struct ova *o)
{
  return o->file;
}

void
ova_close (struct ova *o)
{
  if (o == NULL)
    return;
  if (o->a)
    archive_read_free (o->a);
  EVP_MD_CTX_free (o->sha1);
  EVP_MD_CTX_free (o->sha256);
  for (size_t i = 0; i < o->seen.len; i++)
    free (o->seen.ptr[i]);
  free (o->seen.ptr);
  free (o->digests.ptr);
  free (o->file);
  free (o);
}

/* ---------------------------------------------------------------- */
/* The model: the descriptor is the first entry. */

struct vm *
ova_load (const char *filename, unsigned flags)
{
  struct ova *o = ova_open (filename);
  const char *name;
  uint64_t size;
  char *buf = NULL, *vmname = ovf_default_name (filename), *label = NULL;
  struct vm *vm = NULL;
  int r = o && vmname ? ova_next (o, &name, &size) : -1;

  if (r == 0)
    hv_error (HV_E_FORMAT, "%s: an empty archive", filename);
  else if (r == 1 && (strlen (name) < 4 ||
                      strcasecmp (name + strlen (name) - 4, ".ovf") != 0))
    hv_error (HV_E_FORMAT, "%s: the first entry is '%s', not the OVF "
              "descriptor", filename, name);
  else if (r == 1 && size > 16 * MiB)
    hv_error (HV_E_TOO_LARGE, "%s: descriptor %s of %" PRIu64 " bytes",
              filename, name, size);
  else if (r == 1 && (buf = malloc (size + 1)) != NULL &&
           ova_read_full (o, buf, size) == 0 &&
           asprintf (&label, "%s/%s", filename, name) != -1)
    vm = ovf_parse (label, buf, size, vmname, "ova");
  /* Messages named the entry; the model's source is the archive. */
  if (vm && (free (vm->source), vm->source = strdup (filename)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", filename);
    vm_free (vm);
    vm = NULL;
  }
  free (label);
  free (buf);
  free (vmname);
  ova_close (o);
  return vm;
}

/* A tar (ustar magic at 257, after gunzip if the file is gzip'd). */
bool
ova_probe (const char *head, size_t len)
{
  uint8_t out[512];
  z_stream z = { 0 };
  bool tar = false;

  if (len >= 262 && memcmp (head + 257, "ustar", 5) == 0)
    return true;
  if (len < 2 || (uint8_t) head[0] != 0x1f || (uint8_t) head[1] != 0x8b ||
      inflateInit2 (&z, 16 + MAX_WBITS) != Z_OK)
    return false;
  z.next_in = (Bytef *) head;
  z.avail_in = (uInt) len;
  z.next_out = out;
  z.avail_out = sizeof out;
  inflate (&z, Z_SYNC_FLUSH);
  tar = z.total_out >= 262 && memcmp (out + 257, "ustar", 5) == 0;
  inflateEnd (&z);
  return tar;
}
