/* The guest's files in a host directory: the inj_fs the unit tests use
 * to run an injector on a tree they built, without an appliance.
 *
 * Guest paths are resolved under the root without following a link out
 * of it: an absolute link target is taken relative to the root, as it
 * would be inside the guest, and ".." never climbs above the root.
 * That is what the guest would see, and it keeps a crafted tree from
 * reading host files.
 */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "injectors.h"

struct dir_fs {
  char *root;
};

/* Links followed while resolving one path, as the kernel's limit. */
enum { MAX_LINKS = 40 };

/* Append component C (LEN bytes) to the resolved guest path OUT. */
static int
push (char *out, const char *c, size_t len)
{
  size_t n = strlen (out);

  if (len == 2 && memcmp (c, "..", 2) == 0) {
    char *slash = strrchr (out, '/');
    if (slash)
      *slash = '\0';
    return 0;
  }
  if (len == 0 || (len == 1 && c[0] == '.'))
    return 0;
  if (n + 1 + len >= PATH_MAX)
    return -1;
  out[n] = '/';
  memcpy (out + n + 1, c, len);
  out[n + 1 + len] = '\0';
  return 0;
}

/* Resolve guest PATH into the host path HOST (PATH_MAX bytes), the
 * links of every component but (unless FOLLOW_LAST) the last followed
 * inside the root.  -1 with errno set. */
static int
resolve (const struct dir_fs *d, const char *path, bool follow_last,
         char *host)
{
  char guest[PATH_MAX] = "", todo[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX];
  int links = 0;

  if (snprintf (todo, sizeof todo, "%s", path) >= (int) sizeof todo)
    return errno = ENAMETOOLONG, -1;
  for (char *p = todo; *p;) {
    char *end = strchrnul (p, '/');
    bool is_last = *end == '\0' || end[strspn (end, "/")] == '\0';
    size_t before = strlen (guest);
    struct stat st;
    ssize_t n;

    if (push (guest, p, (size_t) (end - p)) == -1)
      return errno = ENAMETOOLONG, -1;
    p = end + strspn (end, "/");
    if (strlen (guest) <= before || (is_last && !follow_last))
      continue;
    snprintf (host, PATH_MAX, "%s%s", d->root, guest);
    if (lstat (host, &st) == -1 || !S_ISLNK (st.st_mode))
      continue;
    if (++links > MAX_LINKS)
      return errno = ELOOP, -1;
    if ((n = readlink (host, link, sizeof link - 1)) < 0)
      return -1;
    link[n] = '\0';
    /* The rest of the path goes after the link's target. */
    if (snprintf (tmp, sizeof tmp, "%s/%s", link, p) >= (int) sizeof tmp)
      return errno = ENAMETOOLONG, -1;
    memcpy (todo, tmp, sizeof tmp);
    p = todo;
    if (link[0] == '/')
      guest[0] = '\0';
    else
      *strrchr (guest, '/') = '\0';
  }
  if (snprintf (host, PATH_MAX, "%s%s", d->root, guest) >= PATH_MAX)
    return errno = ENAMETOOLONG, -1;
  return 0;
}

static int
dir_exists (void *ctx, const char *path)
{
  char host[PATH_MAX];
  struct stat st;

  if (resolve (ctx, path, false, host) == -1 || lstat (host, &st) == -1)
    return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
  return 1;
}

static int
dir_is_dir (void *ctx, const char *path)
{
  char host[PATH_MAX];
  struct stat st;

  if (resolve (ctx, path, true, host) == -1 || stat (host, &st) == -1)
    return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
  return S_ISDIR (st.st_mode);
}

static char *
read_fd (int fd, const char *path, size_t max, size_t *len)
{
  struct stat st;
  char *buf;

  if (fstat (fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", path);
    return NULL;
  }
  if (!S_ISREG (st.st_mode) || (uint64_t) st.st_size > max) {
    hv_error (HV_E_TOO_LARGE, "%s: not a regular file of at most %zu bytes",
              path, max);
    return NULL;
  }
  if ((buf = malloc ((size_t) st.st_size + 1)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  if (full_pread (fd, buf, (size_t) st.st_size, 0) == -1) {
    hv_error (HV_E_IO, "%s: %m", path);
    free (buf);
    return NULL;
  }
  buf[st.st_size] = '\0';
  *len = (size_t) st.st_size;
  return buf;
}

static char *
dir_read (void *ctx, const char *path, size_t max, size_t *len)
{
  char host[PATH_MAX];
  int fd;
  char *buf;

  if (resolve (ctx, path, true, host) == -1 ||
      (fd = open (host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
    hv_error (HV_E_IO, "%s: %m", path);
    return NULL;
  }
  buf = read_fd (fd, path, max, len);
  close (fd);
  return buf;
}

static char *
dir_pread (void *ctx, const char *path, size_t count, off_t offset,
           size_t *len)
{
  char host[PATH_MAX];
  char *buf = malloc (count + 1);
  ssize_t n = -1;
  int fd;

  if (buf && resolve (ctx, path, true, host) == 0 &&
      (fd = open (host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
    do
      n = pread (fd, buf, count, offset);
    while (n == -1 && errno == EINTR);
    close (fd);
  }
  if (n < 0) {
    hv_error (buf ? HV_E_IO : HV_E_NOMEM, "%s: %m", path);
    free (buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = (size_t) n;
  return buf;
}

static int
dir_download (void *ctx, const char *path, const char *host_path)
{
  char host[PATH_MAX], buf[65536];
  int in, out = -1, r = -1;
  ssize_t n;

  if (resolve (ctx, path, true, host) == -1 ||
      (in = open (host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
    hv_error (HV_E_IO, "%s: %m", path);
    return -1;
  }
  if ((out = open (host_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0600)) == -1)
    hv_error (HV_E_IO, "%s: %m", host_path);
  else {
    while ((n = read (in, buf, sizeof buf)) > 0)
      if (full_write (out, buf, (size_t) n) == -1)
        break;
    if (n == 0 && close (out) == 0)
      r = 0;
    else
      hv_error (HV_E_IO, "copying %s to %s: %m", path, host_path);
    if (r == -1 && n != 0)
      close (out);
  }
  close (in);
  return r;
}

static int
compare (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static char **
dir_ls (void *ctx, const char *path)
{
  char host[PATH_MAX];
  struct string_vector v = { 0 };
  struct dirent *e;
  DIR *dir;

  if (resolve (ctx, path, true, host) == -1 || (dir = opendir (host)) == NULL) {
    hv_error (HV_E_IO, "%s: %m", path);
    return NULL;
  }
  while ((e = readdir (dir)) != NULL) {
    char *name;
    if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
      continue;
    if ((name = strdup (e->d_name)) == NULL ||
        string_vector_append (&v, name) == -1) {
      free (name);
      goto nomem;
    }
  }
  closedir (dir);
  if (string_vector_append (&v, NULL) == -1) {
    dir = NULL;
    goto nomem;
  }
  qsort (v.ptr, v.len - 1, sizeof *v.ptr, compare);
  return v.ptr;
 nomem:
  if (dir)
    closedir (dir);
  for (size_t i = 0; i < v.len; i++)
    free (v.ptr[i]);
  free (v.ptr);
  hv_error (HV_E_NOMEM, "%s: out of memory", path);
  return NULL;
}

static char *
dir_readlink (void *ctx, const char *path)
{
  char host[PATH_MAX], link[PATH_MAX];
  ssize_t n;

  if (resolve (ctx, path, false, host) == -1 ||
      (n = readlink (host, link, sizeof link - 1)) < 0) {
    if (errno == EINVAL || errno == ENOENT || errno == ENOTDIR) {
      errno = EINVAL;
      return NULL;
    }
    hv_error (HV_E_IO, "%s: %m", path);
    return NULL;
  }
  link[n] = '\0';
  return strdup (link);
}

int
inj_fs_dir (const char *root, struct inj_fs *fs)
{
  struct dir_fs *d = calloc (1, sizeof *d);

  if (d == NULL || (d->root = strdup (root)) == NULL) {
    free (d);
    hv_error (HV_E_NOMEM, "out of memory");
    return -1;
  }
  /* "/" as the root would make every path start with "//". */
  if (strcmp (d->root, "/") == 0)
    d->root[0] = '\0';
  *fs = (struct inj_fs) {
    .ctx = d, .exists = dir_exists, .is_dir = dir_is_dir, .read = dir_read,
    .pread = dir_pread, .download = dir_download, .ls = dir_ls,
    .readlink = dir_readlink,
  };
  return 0;
}

void
inj_fs_dir_free (struct inj_fs *fs)
{
  struct dir_fs *d = fs->ctx;

  if (d)
    free (d->root);
  free (d);
  fs->ctx = NULL;
}
