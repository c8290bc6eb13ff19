/* The hard disks of an imported machine, converted one by one.
 *
 * Disk N of the model becomes NAME-diskN.vhd in the output directory,
 * through the same copy engine as `hvconvert disk`.  An undo disk is
 * read through to its parent when committing (the VHD reader follows
 * the chain), so the originals are never written.  An OVA's disks are
 * not files: import-ova.c converts them while reading the archive.
 */
#include <config.h>

#include <stdio.h>

#include "convert.h"
#include "importers.h"
#include "vhd.h"

void
import_disk_name (const struct vm *vm, unsigned n, char *file, size_t len)
{
  snprintf (file, len, "%s-disk%u.vhd", vm->name, n);
}

struct disk *
import_create_vhd (const struct import_opts *io, const struct outdir *o,
                   const char *file, uint64_t size)
{
  char *path = outdir_path (o, file);
  const struct vhd_create_opts vo = {
    .type = io->type, .size = size, .block_size = VHD_DEFAULT_BLOCK,
    .final_name = file, .no_sync = o->no_sync,
  };
  struct disk *v = NULL;

  if (path && vhd_check_size (file, size) == 0)
    v = vhd_create (path, &vo);
  free (path);
  return v;
}

char *
import_disk_report (const struct vm_disk *d, const char *source,
                    const char *format, const char *sha256,
                    const struct copy_stats *st)
{
  struct json *j = json_new (NULL);

  json_str (j, "output", d->output);
  json_str (j, "source", source);
  json_str (j, "format", format);
  json_u64 (j, "virtual_size", d->size);
  json_u64 (j, "bytes_read", st->bytes_read);
  json_u64 (j, "bytes_written", st->bytes_written);
  json_double (j, "seconds", st->seconds);
  json_str_or_null (j, "sha256", sha256);
  return json_end (j);
}

/* Convert disk D into FILE.  Returns its report (JSON) or NULL. */
static char *
convert_one (const struct import_opts *io, const struct outdir *o,
             struct vm_disk *d, const char *file)
{
  const char *src = d->undo && io->commit_undo ? d->undo : d->path;
  struct disk *s = importer_open (src, d->format, io->open_flags);
  struct disk *v = s ? import_create_vhd (io, o, file, s->size) : NULL;
  struct copy_stats st;
  struct copy_opts co = {
    .alloc_unit = io->type == VHD_TYPE_DYNAMIC ? VHD_DEFAULT_BLOCK : 0,
    .what = file, .writeback_fd = vhd_disk_sync_fd (v),
  };
  char *report = NULL;

  if (v && copy_disk (s, v, &co, &st) == 0 && disk_flush (v) == 0 &&
      (d->output = strdup (file)) != NULL) {
    d->size = s->size;
    report = import_disk_report (d, src, s->ops->name, NULL, &st);
  }
  disk_close (v);
  disk_close (s);
  return report;
}

char *
import_disks (const struct import_opts *io, const struct outdir *o,
              struct vm *vm)
{
  struct json *j;
  unsigned n = 0;
  char key[32], file[256 + 32], *rep;

  if (strcmp (vm->source_format, "ova") == 0)
    return import_ova_disks (io, o, vm);
  j = json_new (NULL);
  for (size_t i = 0; i < vm->disks.len; i++) {
    struct vm_disk *d = &vm->disks.ptr[i];
    if (d->media != VM_MEDIA_DISK)
      continue;
    import_disk_name (vm, ++n, file, sizeof file);
    if ((rep = convert_one (io, o, d, file)) == NULL) {
      free (json_end (j));
      return NULL;
    }
    snprintf (key, sizeof key, "disk%u", n);
    json_raw (j, key, rep);
    free (rep);
  }
  return json_end (j);
}
