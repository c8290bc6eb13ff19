/* A QMP client: the QEMU Machine Protocol over a unix socket, one JSON
 * object per line.  We send a few fixed commands (qmp_capabilities,
 * screendump, pmemsave, system_powerdown, quit) and only need to know
 * whether each returned or failed, and which events arrived; so a reply
 * is recognised by its first key, as QEMU writes it ({"return": ...},
 * {"error": ...}, {"timestamp": ..., "event": "NAME", ...}), without a
 * JSON parser.  What QEMU sends is bounded: a line longer than
 * LINE_MAX fails the connection.
 */
#include <config.h>

#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "hypervisor.h"

#define QMP_LINE_MAX (64 * 1024)

struct hv_qmp {
  int fd;
  char buf[QMP_LINE_MAX];
  size_t len;
  char line[QMP_LINE_MAX + 1];  /* the line being looked at */
  char events[1024];          /* " NAME NAME " seen so far */
};

static int
connect_once (const char *path)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd;

  if (strlen (path) >= sizeof sa.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy (sa.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1)
    return -1;
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) == -1) {
    int e = errno;
    close (fd);
    errno = e;
    return -1;
  }
  return fd;
}

static void
remember_event (struct hv_qmp *q, const char *line)
{
  const char *p = strstr (line, "\"event\": \"");
  size_t n, used = strlen (q->events);

  if (p == NULL)
    return;
  p += strlen ("\"event\": \"");
  n = strcspn (p, "\"");
  if (used + n + 2 < sizeof q->events)
    snprintf (q->events + used, sizeof q->events - used, " %.*s ", (int) n,
              p);
  hv_debug ("QMP event %.*s", (int) n, p);
}

/* Take one complete line from the buffer into LINE (NUL-terminated);
 * returns false if there is none yet. */
static bool
take_line (struct hv_qmp *q, char *line)
{
  char *nl = memchr (q->buf, '\n', q->len);
  size_t n;

  if (nl == NULL)
    return false;
  n = nl - q->buf;
  memcpy (line, q->buf, n);
  line[n] = '\0';
  memmove (q->buf, nl + 1, q->len - n - 1);
  q->len -= n + 1;
  return true;
}

/* Read what is there, waiting up to MS milliseconds.  -1 on EOF or
 * error (reported), else 0. */
static int
fill (struct hv_qmp *q, int ms)
{
  struct pollfd p = { .fd = q->fd, .events = POLLIN };
  ssize_t n;

  if (poll (&p, 1, ms) <= 0)
    return 0;
  if (q->len == sizeof q->buf) {
    hv_error (HV_E_IO, "QMP: a reply longer than %d bytes", QMP_LINE_MAX);
    return -1;
  }
  n = read (q->fd, q->buf + q->len, sizeof q->buf - q->len);
  if (n == -1 && errno == EINTR)
    return 0;
  if (n <= 0) {
    hv_error (HV_E_IO, "QMP: QEMU closed the connection");
    return -1;
  }
  q->len += n;
  return 0;
}

/* Wait for the next reply (not an event) until DEADLINE: 1 return,
 * 0 error (reported with CMD), -1 failure (reported). */
static int
next_reply (struct hv_qmp *q, const char *cmd, double deadline)
{
  for (;;) {
    while (take_line (q, q->line)) {
      if (strncmp (q->line, "{\"return\"", 9) == 0)
        return 1;
      if (strncmp (q->line, "{\"error\"", 8) == 0) {
        hv_error (HV_E_IO, "QMP %s: %s", cmd, q->line);
        return 0;
      }
      remember_event (q, q->line);
    }
    if (now_seconds () >= deadline || hv_interrupted) {
      hv_error (HV_E_IO, "QMP %s: no answer from QEMU", cmd);
      return -1;
    }
    if (fill (q, 50) == -1)
      return -1;
  }
}

int
hv_qmp_command (struct hv_qmp *q, const char *json, double timeout)
{
  hv_debug ("QMP <- %s", json);
  if (full_write (q->fd, json, strlen (json)) == -1 ||
      full_write (q->fd, "\n", 1) == -1) {
    hv_error (HV_E_IO, "QMP: cannot send %s: %m", json);
    return -1;
  }
  return next_reply (q, json, now_seconds () + timeout) == 1 ? 0 : -1;
}

void
hv_qmp_poll (struct hv_qmp *q)
{
  if (q == NULL || fill (q, 0) == -1)
    return;
  /* Only events arrive unasked. */
  while (take_line (q, q->line))
    remember_event (q, q->line);
}

bool
hv_qmp_saw_event (struct hv_qmp *q, const char *name)
{
  char word[64];

  if (q == NULL)
    return false;
  snprintf (word, sizeof word, " %s ", name);
  return strstr (q->events, word) != NULL;
}

/* Has PID exited?  (Without reaping it: its status stays for the
 * caller's waitpid.) */
static bool
exited (pid_t pid)
{
  siginfo_t si = { .si_pid = 0 };

  return waitid (P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
    si.si_pid == pid;
}

struct hv_qmp *
hv_qmp_connect (const char *path, pid_t pid, double deadline)
{
  struct hv_qmp *q = calloc (1, sizeof *q);
  struct timespec ts = { 0, 20 * 1000 * 1000 };

  if (q == NULL) {
    hv_error (HV_E_NOMEM, "%m");
    return NULL;
  }
  while ((q->fd = connect_once (path)) == -1) {
    if (exited (pid)) {
      hv_error (HV_E_IO, "QEMU exited before it opened its QMP socket");
      free (q);
      return NULL;
    }
    if (now_seconds () >= deadline || hv_interrupted) {
      hv_error (HV_E_IO, "%s: cannot connect to QEMU's QMP socket: %m",
                path);
      free (q);
      return NULL;
    }
    nanosleep (&ts, NULL);
  }
  /* The greeting ({"QMP": ...}) is not a reply; the negotiation's is. */
  if (hv_qmp_command (q, "{\"execute\":\"qmp_capabilities\"}",
                      deadline - now_seconds () + 5) == -1) {
    hv_qmp_close (q);
    return NULL;
  }
  return q;
}

void
hv_qmp_close (struct hv_qmp *q)
{
  if (q == NULL)
    return;
  close (q->fd);
  free (q);
}
