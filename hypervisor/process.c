/* Subprocesses (QEMU, qemu-img, debugfs, qemu-storage-daemon) started
 * from an argv array with posix_spawnp, never through a shell; waiting
 * with a deadline; stopping; private temporary directories.
 */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "hypervisor.h"

extern char **environ;

/* Output kept by hv_run: enough for a version line or an error. */
#define RUN_OUTPUT_MAX (64 * 1024)

static int
add_dup (posix_spawn_file_actions_t *fa, int fd, int target)
{
  if (fd >= 0)
    return posix_spawn_file_actions_adddup2 (fa, fd, target);
  return posix_spawn_file_actions_addopen (fa, target, "/dev/null",
                                           target == 0 ? O_RDONLY : O_WRONLY,
                                           0);
}

int
hv_spawn (char *const *argv, const struct hv_spawn_io *io, pid_t *pid)
{
  static const struct hv_spawn_io null_io = { -1, -1, -1 };
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none;
  int r;

  if (io == NULL)
    io = &null_io;
  posix_spawn_file_actions_init (&fa);
  posix_spawnattr_init (&attr);
  /* The child starts with default signal handling and no blocked
   * signals, whatever this process set up. */
  sigemptyset (&none);
  posix_spawnattr_setsigmask (&attr, &none);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK);
  r = add_dup (&fa, io->stdin_fd, 0);
  if (r == 0)
    r = add_dup (&fa, io->stdout_fd, 1);
  if (r == 0)
    r = add_dup (&fa, io->stderr_fd, 2);
  if (r == 0)
    r = posix_spawnp (pid, argv[0], &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&attr);
  if (r != 0) {
    errno = r;
    hv_error (HV_E_IO, "cannot run %s: %m", argv[0]);
    return -1;
  }
  hv_debug ("started %s (pid %d)", argv[0], (int) *pid);
  return 0;
}

static void
sleep_seconds (double s)
{
  struct timespec ts = { .tv_sec = (time_t) s,
    .tv_nsec = (long) ((s - (time_t) s) * 1e9) };

  nanosleep (&ts, NULL);
}

int
hv_wait_until (pid_t pid, double deadline, int *status)
{
  pid_t r;

  for (;;) {
    r = waitpid (pid, status, WNOHANG);
    if (r == pid)
      return 1;
    if (r == -1 && errno != EINTR) {
      hv_error (HV_E_INTERNAL, "waitpid %d: %m", (int) pid);
      return -1;
    }
    if (hv_interrupted || now_seconds () >= deadline)
      return 0;
    sleep_seconds (0.01);
  }
}

void
hv_stop (pid_t pid, double grace)
{
  int status;

  if (pid <= 0)
    return;
  kill (pid, SIGTERM);
  if (hv_wait_until (pid, now_seconds () + grace, &status) == 1)
    return;
  kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
    ;
}

/* Read what the child writes to the pipe FD until it closes or the
 * deadline passes, keeping the first RUN_OUTPUT_MAX bytes. */
static char *
read_output (int fd, double deadline)
{
  char *buf = calloc (1, RUN_OUTPUT_MAX + 1);
  size_t len = 0;
  char tmp[4096];
  ssize_t n;

  if (buf == NULL)
    return NULL;
  for (;;) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    double left = deadline - now_seconds ();
    if (left <= 0 || hv_interrupted)
      break;
    if (poll (&p, 1, (int) (left * 1000) + 1) <= 0)
      continue;
    n = read (fd, tmp, sizeof tmp);
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (len < RUN_OUTPUT_MAX) {
      size_t keep = MIN ((size_t) n, RUN_OUTPUT_MAX - len);
      memcpy (buf + len, tmp, keep);
      len += keep;
    }
  }
  return buf;
}

/* Its exit status, or -1 after reporting how it ended. */
static int
exit_code (char *const *argv, int status, bool timed_out, double timeout)
{
  if (timed_out) {
    hv_error (HV_E_IO, "%s did not finish in %.0f s and was stopped",
              argv[0], timeout);
    return -1;
  }
  if (WIFSIGNALED (status)) {
    hv_error (HV_E_IO, "%s was killed by signal %d", argv[0],
              WTERMSIG (status));
    return -1;
  }
  return WEXITSTATUS (status);
}

int
hv_run (char *const *argv, double timeout, char **output)
{
  const double deadline = now_seconds () + timeout;
  int pipefd[2], status = 0, w;
  struct hv_spawn_io io = { -1, -1, -1 };
  char *out;
  pid_t pid;

  if (output)
    *output = NULL;
  if (pipe2 (pipefd, O_CLOEXEC) == -1) {
    hv_error (HV_E_IO, "pipe: %m");
    return -1;
  }
  io.stdout_fd = io.stderr_fd = pipefd[1];
  if (hv_spawn (argv, &io, &pid) == -1) {
    close (pipefd[0]);
    close (pipefd[1]);
    return -1;
  }
  close (pipefd[1]);
  out = read_output (pipefd[0], deadline);
  close (pipefd[0]);
  w = hv_wait_until (pid, deadline, &status);
  if (w != 1)
    hv_stop (pid, 1);
  if (output)
    *output = out;
  else
    free (out);
  return w == -1 ? -1 : exit_code (argv, status, w == 0, timeout);
}

/* ---------------------------------------------------------------- */
/* Command lines. */

void
hv_argv_add (struct hv_argv *a, const char *arg)
{
  char *s = arg ? strdup (arg) : NULL;

  if ((arg && s == NULL) || string_vector_append (&a->v, s) == -1) {
    free (s);
    a->failed = true;
  }
}

void
hv_argv_addf (struct hv_argv *a, const char *fmt, ...)
{
  va_list ap;
  char *s;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) == -1)
    s = NULL;
  va_end (ap);
  if (s == NULL || string_vector_append (&a->v, s) == -1) {
    free (s);
    a->failed = true;
  }
}

void
hv_argv_add_opt (struct hv_argv *a, const char *prefix, const char *value,
                 const char *suffix)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL) {
    a->failed = true;
    return;
  }
  fputs (prefix, f);
  for (const char *p = value; *p; p++) {
    if (*p == ',')
      fputc (',', f);
    fputc (*p, f);
  }
  fputs (suffix, f);
  if (fclose (f) != 0 || string_vector_append (&a->v, buf) == -1) {
    free (buf);
    a->failed = true;
  }
}

int
hv_argv_end (struct hv_argv *a)
{
  if (!a->failed && string_vector_append (&a->v, NULL) == -1)
    a->failed = true;
  if (a->failed) {
    hv_error (HV_E_NOMEM, "building a command line: %m");
    return -1;
  }
  return 0;
}

void
hv_argv_free (struct hv_argv *a)
{
  for (size_t i = 0; i < a->v.len; i++)
    free (a->v.ptr[i]);
  free (a->v.ptr);
  *a = (struct hv_argv) { 0 };
}

char *
hv_argv_string (char *const *argv)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL)
    return NULL;
  for (size_t i = 0; argv[i]; i++)
    fprintf (f, "%s%s", i ? " " : "", argv[i]);
  fclose (f);
  return buf;
}

/* ---------------------------------------------------------------- */
/* Private directories. */

char *
hv_private_dir (const char *prefix)
{
  const char *tmpdir = getenv ("TMPDIR");
  char *dir;

  if (tmpdir == NULL || *tmpdir == '\0')
    tmpdir = "/tmp";
  if (asprintf (&dir, "%s/%s.XXXXXX", tmpdir, prefix) == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return NULL;
  }
  if (mkdtemp (dir) == NULL) {
    hv_error (HV_E_IO, "%s: cannot create a private directory: %m", dir);
    free (dir);
    return NULL;
  }
  return dir;
}

static void
remove_at (int dirfd, const char *name);

static void
empty_dir (int fd)
{
  DIR *d = fdopendir (fd);
  struct dirent *e;

  if (d == NULL) {
    close (fd);
    return;
  }
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      remove_at (dirfd (d), e->d_name);
  closedir (d);
}

/* Remove NAME in DIRFD; a directory is emptied first (O_NOFOLLOW: a
 * symbolic link is removed, never followed). */
static void
remove_at (int dirfd, const char *name)
{
  int fd;

  if (unlinkat (dirfd, name, 0) == 0 || errno != EISDIR)
    return;
  fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0)
    empty_dir (fd);
  unlinkat (dirfd, name, AT_REMOVEDIR);
}

void
hv_remove_tree (const char *dir)
{
  if (dir)
    remove_at (AT_FDCWD, dir);
}
