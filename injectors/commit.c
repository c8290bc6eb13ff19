/* Commit an inject: copy what the appliance wrote into the qcow2 overlay
 * down into the disk.
 *
 * `qemu-img map` says which ranges the overlay itself holds (depth 0):
 * data at a file offset of the overlay (qemu writes uncompressed
 * clusters), or zeros.  Those ranges are written into the disk through
 * our own VHD writer (or pwrite for a raw disk), then flushed.
 *
 * The overlay is first renamed to DIR/.NAME.inject-pending.qcow2: while
 * that file exists the disk may be half-committed, and the next inject
 * of the disk finishes the commit before anything else (writing the same
 * data again is harmless).  It is removed once the disk is flushed.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hypervisor.h"
#include "importers.h"
#include "injectors.h"
#include "vhd.h"

/* One range of the overlay's map. */
struct range {
  uint64_t start, length, offset;
  int depth;
  bool data, zero;
};

/* The disk being written: a VHD through our library, or a raw file. */
struct target {
  struct disk *vhd;
  int fd;
  const char *name;
};

static char *
pending_name (const char *disk)
{
  char *copy = strdup (disk), *name = NULL;
  const char *base = strrchr (disk, '/') ? strrchr (disk, '/') + 1 : disk;

  if (copy && asprintf (&name, "%s/.%s.inject-pending.qcow2",
                        dirname (copy), base) == -1)
    name = NULL;
  free (copy);
  return name;
}

/* The value after "KEY": in the JSON object text OBJ. */
static const char *
field (const char *obj, const char *key)
{
  char pat[32];
  const char *p;

  snprintf (pat, sizeof pat, "\"%s\":", key);
  if ((p = strstr (obj, pat)) == NULL)
    return NULL;
  p += strlen (pat);
  return p + strspn (p, " ");
}

static int
parse_range (const char *obj, struct range *r)
{
  const char *start = field (obj, "start"), *length = field (obj, "length"),
    *depth = field (obj, "depth"), *data = field (obj, "data"),
    *zero = field (obj, "zero"), *offset = field (obj, "offset");

  if (!start || !length || !depth || !data || !zero)
    return -1;
  *r = (struct range) {
    .start = strtoull (start, NULL, 10),
    .length = strtoull (length, NULL, 10),
    .depth = atoi (depth),
    .data = strncmp (data, "true", 4) == 0,
    .zero = strncmp (zero, "true", 4) == 0,
    .offset = offset ? strtoull (offset, NULL, 10) : 0,
  };
  return r->data && !offset ? -1 : 0;
}

/* The overlay's map as text, from qemu-img. */
static char *
overlay_map (const char *overlay, const char *workfile)
{
  char *argv[] = { "qemu-img", "map", "--output=json", "-f", "qcow2",
                   (char *) overlay, NULL };
  struct hv_spawn_io io = { .stdin_fd = -1, .stderr_fd = -1 };
  char *text = NULL;
  int status, fd;
  pid_t pid;

  if ((fd = open (workfile, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))
      == -1) {
    hv_error (HV_E_IO, "%s: %m", workfile);
    return NULL;
  }
  io.stdout_fd = fd;
  if (hv_spawn (argv, &io, &pid) == 0 &&
      hv_wait_until (pid, now_seconds () + 600, &status) == 1) {
    size_t len;
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0 &&
        importer_read_file (workfile, 64u << 20, &text, &len) == -1)
      text = NULL;
    else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
      hv_error (HV_E_IO, "%s: qemu-img map failed", overlay);
  }
  close (fd);
  unlink (workfile);
  return text;
}

static int
target_write (struct target *t, const void *buf, size_t n, uint64_t off)
{
  if (t->vhd)
    return disk_pwrite (t->vhd, buf, n, off);
  if (full_pwrite (t->fd, buf, n, off) == -1) {
    hv_error (HV_E_IO, "%s: write at %" PRIu64 ": %m", t->name, off);
    return -1;
  }
  return 0;
}

/* Copy range R from the overlay file OFD into T. */
static int
copy_range (int ofd, const char *overlay, const struct range *r,
            struct target *t, char *buf, size_t bufsize)
{
  for (uint64_t done = 0; done < r->length;) {
    size_t n = r->length - done < bufsize ? r->length - done : bufsize;
    if (r->data) {
      if (full_pread (ofd, buf, n, r->offset + done) == -1) {
        hv_error (HV_E_IO, "%s: read at %" PRIu64 ": %m", overlay,
                  r->offset + done);
        return -1;
      }
    }
    else
      memset (buf, 0, n);
    if (target_write (t, buf, n, r->start + done) == -1)
      return -1;
    done += n;
  }
  return 0;
}

/* The QEMU format name of DISK: inject commits into VHD and raw disks,
 * the two our own writers handle. */
int
inj_disk_format (const char *disk, const char **qemu_format)
{
  struct disk *d = importer_open (disk, NULL, 0);
  const char *name;

  if (d == NULL)
    return -1;
  name = d->ops->name;
  *qemu_format = strcmp (name, "vhd") == 0 ? "vpc"
               : strcmp (name, "raw") == 0 ? "raw" : NULL;
  disk_close (d);
  if (*qemu_format == NULL) {
    hv_error (HV_E_UNSUPPORTED, "%s: a %s image: inject changes VHD and raw "
              "disks only (convert it first with hvconvert disk)", disk,
              name);
    return -1;
  }
  return 0;
}

static int
target_open (const char *disk, struct target *t)
{
  const char *fmt;

  if (inj_disk_format (disk, &fmt) == -1)
    return -1;
  *t = (struct target) { .fd = -1, .name = disk };
  if (strcmp (fmt, "vpc") == 0)
    return (t->vhd = vhd_open (disk, VHD_OPEN_WRITE)) ? 0 : -1;
  if ((t->fd = open (disk, O_WRONLY | O_CLOEXEC)) == -1) {
    hv_error (HV_E_IO, "%s: %m", disk);
    return -1;
  }
  return 0;
}

static int
target_close (struct target *t)
{
  int r = 0;

  if (t->vhd) {
    r = disk_flush (t->vhd);
    disk_close (t->vhd);
  }
  else if (t->fd >= 0) {
    if (fsync (t->fd) == -1) {
      hv_error (HV_E_IO, "%s: %m", t->name);
      r = -1;
    }
    close (t->fd);
  }
  return r;
}

/* Copy every range OVERLAY holds itself into DISK. */
static int
commit_file (const char *overlay, const char *disk)
{
  CLEANUP_FREE char *workfile = NULL, *map = NULL, *buf = malloc (1u << 20);
  struct target t = { .fd = -1 };
  uint64_t bytes = 0;
  int ofd = -1, r = -1;

  if (buf == NULL || asprintf (&workfile, "%s.map", overlay) == -1) {
    hv_error (HV_E_NOMEM, "out of memory");
    return -1;
  }
  if ((map = overlay_map (overlay, workfile)) == NULL)
    return -1;
  if ((ofd = open (overlay, O_RDONLY | O_CLOEXEC)) == -1) {
    hv_error (HV_E_IO, "%s: %m", overlay);
    return -1;
  }
  if (target_open (disk, &t) == -1)
    goto out;
  for (const char *obj = strchr (map, '{'); obj; obj = strchr (obj + 1, '{')) {
    struct range rg;
    if (parse_range (obj, &rg) == -1) {
      hv_error (HV_E_FORMAT, "%s: qemu-img map printed a range it did not "
                "describe fully", overlay);
      goto out;
    }
    if (rg.depth != 0 || !(rg.data || rg.zero))
      continue;
    if (copy_range (ofd, overlay, &rg, &t, buf, 1u << 20) == -1)
      goto out;
    bytes += rg.length;
  }
  r = 0;
 out:
  if (target_close (&t) == -1)
    r = -1;
  close (ofd);
  if (r == 0)
    hv_debug ("%s: committed %" PRIu64 " bytes from %s", disk, bytes,
              overlay);
  return r;
}

int
inj_commit_overlay (const char *overlay, const char *disk)
{
  CLEANUP_FREE char *pending = pending_name (disk);

  if (pending == NULL) {
    hv_error (HV_E_NOMEM, "out of memory");
    return -1;
  }
  if (rename (overlay, pending) == -1) {
    hv_error (HV_E_IO, "%s: cannot rename to %s: %m", overlay, pending);
    return -1;
  }
  if (commit_file (pending, disk) == -1) {
    hv_error (HV_E_IO, "%s: the changes are kept in %s; running inject "
              "again completes them", disk, pending);
    return -1;
  }
  unlink (pending);
  return 0;
}

int
inj_finish_pending (const char *disk, bool dry_run)
{
  CLEANUP_FREE char *pending = pending_name (disk);
  struct stat st;

  if (pending == NULL) {
    hv_error (HV_E_NOMEM, "out of memory");
    return -1;
  }
  if (stat (pending, &st) == -1)
    return 0;
  if (dry_run) {
    hv_error (HV_E_IO, "%s: an earlier inject was interrupted while "
              "committing its changes (kept in %s): run inject without "
              "--dry-run to complete them", disk, pending);
    return -1;
  }
  hv_warning (HV_E_IO, "%s: an earlier inject was interrupted while "
              "committing; completing it from %s", disk, pending);
  if (commit_file (pending, disk) == -1)
    return -1;
  unlink (pending);
  return 0;
}
