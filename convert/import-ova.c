/* The disks of an OVA, converted in one pass over the archive.
 *
 * The archive is read front to back once.  A streamOptimized VMDK
 * entry (what OVAs carry) is decoded straight into its VHD as
 * libarchive hands the bytes over (importers/vmdk-stream.c); any other
 * disk format needs random access, so that entry alone is copied into
 * a hidden file in the output directory, converted, and removed.  Every
 * entry is hashed on the way, and the manifest (.mf) is checked at the
 * end: a digest that does not match, or a manifest naming a file the
 * archive lacks, is an error (nothing is renamed into place); no
 * manifest is a warning.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "convert.h"
#include "importers.h"
#include "vhd.h"

#define MF_MAX (1 * MiB)

struct ova_import {
  const struct import_opts *io;
  const struct outdir *o;
  struct vm *vm;
  struct ova *ova;
  struct json *report;
  char *manifest;            /* the .mf, once read */
  size_t manifest_len;
  char *manifest_name;
};

/* The model's hard disk whose href is NAME, with its number (1-based
 * among hard disks), or NULL. */
static struct vm_disk *
disk_for (struct vm *vm, const char *name, unsigned *n)
{
  *n = 0;
  for (size_t i = 0; i < vm->disks.len; i++) {
    struct vm_disk *d = &vm->disks.ptr[i];
    if (d->media != VM_MEDIA_DISK)
      continue;
    ++*n;
    if (d->path && d->output == NULL && strcmp (d->path, name) == 0)
      return d;
  }
  return NULL;
}

/* A reader that serves a sector already read, then the archive. */
struct replay {
  struct ova *ova;
  const uint8_t *first;
  size_t first_len, pos;
};

static int
replay_read (void *opaque, void *buf, size_t n)
{
  struct replay *r = opaque;
  size_t k = MIN (n, r->first_len - r->pos);

  memcpy (buf, r->first + r->pos, k);
  r->pos += k;
  return n == k ? 0 : ova_read_full (r->ova, (uint8_t *) buf + k, n - k);
}

static int
stream_vmdk (struct ova_import *x, struct vm_disk *d, const char *file,
             const uint8_t *first, uint64_t size, struct copy_stats *st)
{
  struct replay rp = { .ova = x->ova, .first = first, .first_len = 512 };
  struct vmdk_stream *s = vmdk_stream_start (d->path, replay_read, &rp,
                                             size);
  struct disk *v = s ? import_create_vhd (x->io, x->o, file,
                                          vmdk_stream_size (s)) : NULL;
  int r = -1;

  if (v && vmdk_stream_copy (s, v, &st->bytes_written) == 0 &&
      ova_drain (x->ova) == 0 && disk_flush (v) == 0) {
    d->size = vmdk_stream_size (s);
    r = 0;
  }
  disk_close (v);
  vmdk_stream_free (s);
  return r;
}

/* Any other format: the entry into a hidden file, converted from there. */
static int
extract_and_convert (struct ova_import *x, struct vm_disk *d,
                     const char *file, const uint8_t *first, size_t n,
                     struct copy_stats *st)
{
  char tmpname[300], *path;
  uint8_t buf[256 * 1024];
  ssize_t k = (ssize_t) n;
  int fd, r = -1;

  snprintf (tmpname, sizeof tmpname, ".%s.extract", file);
  if ((path = outdir_path (x->o, tmpname)) == NULL)
    return -1;
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd == -1)
    hv_error (HV_E_IO, "%s: %m", path);
  memcpy (buf, first, n);
  while (fd >= 0 && k > 0 && full_write (fd, buf, k) == 0)
    k = ova_read (x->ova, buf, sizeof buf);
  if (fd >= 0 && k == 0) {
    struct disk *s = importer_open (path, NULL, x->io->open_flags), *v;
    struct copy_opts co = {
      .what = file, .writeback_fd = -1,
      .alloc_unit = x->io->type == VHD_TYPE_DYNAMIC ? VHD_DEFAULT_BLOCK : 0,
    };
    v = s ? import_create_vhd (x->io, x->o, file, s->size) : NULL;
    co.writeback_fd = vhd_disk_sync_fd (v);
    if (v && copy_disk (s, v, &co, st) == 0 && disk_flush (v) == 0) {
      d->size = s->size;
      r = 0;
    }
    disk_close (v);
    disk_close (s);
  }
  else if (fd >= 0 && k > 0)
    hv_error (HV_E_IO, "%s: %m", path);
  if (fd >= 0)
    close (fd);
  unlink (path);
  free (path);
  return r;
}

/* The entry's SHA-256, computed anyway for the manifest. */
static const char *
entry_sha256 (const struct ova_import *x, const char *name)
{
  const struct ova_digest *dg = ova_digest (x->ova, name);

  return dg && dg->sha256[0] ? dg->sha256 : NULL;
}

static int
convert_entry (struct ova_import *x, struct vm_disk *d, unsigned n,
               uint64_t size)
{
  uint8_t first[512] = { 0 };
  char file[256 + 32], key[32], *rep = NULL;
  struct copy_stats st = { .bytes_read = size };
  const size_t got = MIN (size, sizeof first);
  const double start = now_seconds ();
  bool stream;
  int r;

  import_disk_name (x->vm, n, file, sizeof file);
  if (got && ova_read_full (x->ova, first, got) == -1)
    return -1;
  /* KDMV with compressed grains and markers: streamOptimized. */
  stream = got == sizeof first && memcmp (first, "KDMV", 4) == 0 &&
    (load_le32 (first + 8) & (3u << 16)) == (3u << 16);
  if (stream)
    r = stream_vmdk (x, d, file, first, size, &st);
  else
    r = extract_and_convert (x, d, file, first, got, &st);
  st.seconds = now_seconds () - start;
  if (r == 0 && (d->output = strdup (file)) != NULL &&
      (rep = import_disk_report (d, d->path, stream ? "vmdk-stream"
                                 : "extracted", entry_sha256 (x, d->path),
                                 &st)) != NULL) {
    snprintf (key, sizeof key, "disk%u", n);
    json_raw (x->report, key, rep);
  }
  free (rep);
  return rep ? 0 : -1;
}

static int
read_manifest (struct ova_import *x, const char *name, uint64_t size)
{
  if (size > MF_MAX) {
    hv_error (HV_E_TOO_LARGE, "%s: manifest %s of %" PRIu64 " bytes",
              ova_filename (x->ova), name, size);
    return -1;
  }
  free (x->manifest);
  free (x->manifest_name);
  x->manifest = malloc (size + 1);
  x->manifest_name = strdup (name);
  if (x->manifest == NULL || x->manifest_name == NULL) {
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  x->manifest_len = size;
  x->manifest[size] = '\0';
  if (ova_read_full (x->ova, x->manifest, size) == -1)
    return -1;
  /* The entries after it need only the digests it uses: hashing a disk
   * twice costs as much as decoding it. */
  ova_want_digests (x->ova, strstr (x->manifest, "SHA1(") != NULL,
                    strstr (x->manifest, "SHA256(") != NULL);
  return ova_drain (x->ova);
}

static bool
ends_with (const char *s, const char *suffix)
{
  size_t n = strlen (s), k = strlen (suffix);

  return n >= k && strcasecmp (s + n - k, suffix) == 0;
}

/* One pass over the entries after the descriptor. */
static int
read_entries (struct ova_import *x)
{
  const char *name;
  uint64_t size;
  unsigned n;
  int r;

  while ((r = ova_next (x->ova, &name, &size)) == 1) {
    struct vm_disk *d = disk_for (x->vm, name, &n);
    if (d)
      r = convert_entry (x, d, n, size);
    else if (ends_with (name, ".mf"))
      r = read_manifest (x, name, size);
    else
      r = ova_drain (x->ova);
    if (r == -1 || hv_check_interrupted () == -1)
      return -1;
  }
  return r;
}

/* ---------------------------------------------------------------- */
/* The manifest. */

/* "SHA256(name)= hex" (virt-v2v's rule; CR tolerated).  Returns 1 and
 * the parts, 0 for a line that is not one. */
static int
manifest_line (char *line, char **alg, char **name, char **hex)
{
  char *open = strchr (line, '('), *close = strstr (line, ")= ");
  size_t n = strlen (line);

  if (n && line[n - 1] == '\r')
    line[--n] = '\0';
  if (open == NULL || close == NULL || close < open)
    return 0;
  *open = '\0';
  *close = '\0';
  *alg = line;
  *name = open + 1;
  *hex = close + 3;
  return 1;
}

static int
check_digest (struct ova_import *x, const char *alg, const char *name,
              const char *hex)
{
  const struct ova_digest *d = ova_digest (x->ova, name);
  const char *want = NULL;

  if (strcmp (alg, "SHA1") == 0)
    want = d ? d->sha1 : NULL;
  else if (strcmp (alg, "SHA256") == 0)
    want = d ? d->sha256 : NULL;
  else {
    hv_error (HV_E_UNSUPPORTED, "%s: manifest: digest %s of %s not "
              "supported (SHA1 and SHA256 are)", ova_filename (x->ova), alg,
              name);
    return -1;
  }
  if (d == NULL) {
    hv_error (HV_E_FORMAT, "%s: manifest names %s, which is not in the "
              "archive", ova_filename (x->ova), name);
    return -1;
  }
  if (want[0] == '\0') {
    hv_error (HV_E_FORMAT, "%s: manifest: %s of %s, but the manifest "
              "before it used other digests (mixed digests not supported)",
              ova_filename (x->ova), alg, name);
    return -1;
  }
  if (strcasecmp (want, hex) != 0) {
    hv_error (HV_E_CHECKSUM, "%s: %s of %s is %s, the manifest says %s",
              ova_filename (x->ova), alg, name, want, hex);
    return -1;
  }
  return 0;
}

static int
check_manifest (struct ova_import *x)
{
  char *line, *save = NULL, *alg, *name, *hex;
  unsigned checked = 0;

  if (x->manifest == NULL) {
    vm_warn (x->vm, HV_E_CHECKSUM, "%s: no manifest (.mf): the files "
             "could not be checked", ova_filename (x->ova));
    return 0;
  }
  for (line = strtok_r (x->manifest, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save)) {
    if (manifest_line (line, &alg, &name, &hex) == 0)
      continue;
    if (check_digest (x, alg, name, hex) == -1)
      return -1;
    checked++;
  }
  hv_debug ("%s: %u manifest digests match", x->manifest_name, checked);
  return 0;
}

/* Every disk the descriptor names must have been in the archive. */
static int
check_all_found (struct ova_import *x)
{
  for (size_t i = 0; i < x->vm->disks.len; i++) {
    const struct vm_disk *d = &x->vm->disks.ptr[i];
    if (d->media == VM_MEDIA_DISK && d->output == NULL) {
      hv_error (HV_E_FORMAT, "%s: disk file %s named in the descriptor is "
                "not in the archive", ova_filename (x->ova),
                d->path ? d->path : "(none)");
      return -1;
    }
  }
  return 0;
}

char *
import_ova_disks (const struct import_opts *io, const struct outdir *o,
                  struct vm *vm)
{
  struct ova_import x = { .io = io, .o = o, .vm = vm };
  const char *name;
  uint64_t size;
  char *report = NULL;

  x.ova = ova_open (vm->source);
  x.report = json_new (NULL);
  /* The descriptor, already read by ova_load: skip it. */
  if (x.ova && x.report && ova_next (x.ova, &name, &size) == 1 &&
      ova_drain (x.ova) == 0 && read_entries (&x) == 0 &&
      check_all_found (&x) == 0 && check_manifest (&x) == 0)
    report = json_end (x.report);
  else
    free (json_end (x.report));
  ova_close (x.ova);
  free (x.manifest);
  free (x.manifest_name);
  return report;
}
