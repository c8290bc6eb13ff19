/* The guest's files through libguestfs: the inj_fs of a real inject.
 *
 * Every path is resolved by the appliance inside the guest's mounted
 * file systems, so a link in the guest cannot reach the host.  Reads are
 * bounded before they are made: libguestfs itself refuses messages above
 * a few MiB, and a crafted guest may hold a file of any size where a
 * configuration file is expected.
 */
#include <config.h>

#include <guestfs.h>
#include <inttypes.h>
#include <stdio.h>

#include "injectors.h"

/* The largest file read into memory through the protocol in one call;
 * larger files (up to the caller's MAX) are downloaded. */
#define READ_CHUNK (2u << 20)

const char *
inj_guestfs_error (void *g)
{
  const char *e = guestfs_last_error (g);
  return e ? e : "unknown libguestfs error";
}

static int
gfs_exists (void *ctx, const char *path)
{
  guestfs_h *g = ctx;
  int r = guestfs_is_symlink (g, path);

  if (r == 0)
    r = guestfs_exists (g, path);
  if (r == -1)
    hv_error (HV_E_IO, "%s: %s", path, inj_guestfs_error (g));
  return r;
}

static int
gfs_is_dir (void *ctx, const char *path)
{
  guestfs_h *g = ctx;
  int r = guestfs_is_dir_opts (g, path, GUESTFS_IS_DIR_OPTS_FOLLOWSYMLINKS,
                               1, -1);
  if (r == -1)
    hv_error (HV_E_IO, "%s: %s", path, inj_guestfs_error (g));
  return r;
}

static char *
gfs_pread (void *ctx, const char *path, size_t count, off_t offset,
           size_t *len)
{
  guestfs_h *g = ctx;
  char *data, *buf;

  if (count > READ_CHUNK)
    count = READ_CHUNK;
  if ((data = guestfs_pread (g, path, (int) count, offset, len)) == NULL) {
    hv_error (HV_E_IO, "%s: %s", path, inj_guestfs_error (g));
    return NULL;
  }
  /* libguestfs's buffer has no terminating NUL. */
  if ((buf = realloc (data, *len + 1)) == NULL) {
    free (data);
    hv_error (HV_E_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  buf[*len] = '\0';
  return buf;
}

static char *
gfs_read (void *ctx, const char *path, size_t max, size_t *len)
{
  guestfs_h *g = ctx;
  int64_t size = guestfs_filesize (g, path);
  char *buf;
  size_t got;

  if (size == -1) {
    hv_error (HV_E_IO, "%s: %s", path, inj_guestfs_error (g));
    return NULL;
  }
  if ((uint64_t) size > max || (uint64_t) size > READ_CHUNK) {
    hv_error (HV_E_TOO_LARGE, "%s: %" PRId64 " bytes, more than the %zu a "
              "file of this kind may have", path, size,
              max < READ_CHUNK ? max : (size_t) READ_CHUNK);
    return NULL;
  }
  if ((buf = gfs_pread (ctx, path, (size_t) size, 0, &got)) == NULL)
    return NULL;
  *len = got;
  return buf;
}

static int
gfs_download (void *ctx, const char *path, const char *host_path)
{
  guestfs_h *g = ctx;

  if (guestfs_download (g, path, host_path) == -1) {
    hv_error (HV_E_IO, "%s: cannot copy it out of the guest: %s", path,
              inj_guestfs_error (g));
    return -1;
  }
  return 0;
}

static int
compare (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static char **
gfs_ls (void *ctx, const char *path)
{
  guestfs_h *g = ctx;
  char **v = guestfs_ls (g, path);
  size_t n = 0;

  if (v == NULL) {
    hv_error (HV_E_IO, "%s: %s", path, inj_guestfs_error (g));
    return NULL;
  }
  while (v[n])
    n++;
  qsort (v, n, sizeof *v, compare);
  return v;
}

static char *
gfs_readlink (void *ctx, const char *path)
{
  guestfs_h *g = ctx;
  int link = guestfs_is_symlink (g, path);
  char *t;

  if (link == 0) {
    errno = EINVAL;
    return NULL;
  }
  if ((t = link == 1 ? guestfs_readlink (g, path) : NULL) == NULL)
    hv_error (HV_E_IO, "%s: %s", path, inj_guestfs_error (g));
  return t;
}

void
inj_fs_guestfs (void *g, struct inj_fs *fs)
{
  *fs = (struct inj_fs) {
    .ctx = g, .exists = gfs_exists, .is_dir = gfs_is_dir, .read = gfs_read,
    .pread = gfs_pread, .download = gfs_download, .ls = gfs_ls,
    .readlink = gfs_readlink,
  };
}
