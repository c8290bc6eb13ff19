/* Does KVM really run a guest?  And so: which accelerator to use.
 *
 * /dev/kvm answering the KVM API proves little: on a nested host it may
 * hang (or crawl through) every guest right after the bootloader.  So
 * the probe boots a real guest, probe-guest.S: a boot sector that goes
 * through protected and long mode, touches 64 MiB, runs a loop and
 * takes timer interrupts, then prints a marker and exits QEMU through
 * isa-debug-exit.  It runs first under TCG, which proves the guest and
 * QEMU sound and tells how long emulation takes, then under KVM with a
 * deadline of max(3 s, 3 x the TCG time): a KVM slower than that is of
 * no use to us even if it would finish one day.
 *
 * The answer is cached in a small text file keyed by the host's kernel
 * release, QEMU's binary and QEMU's version, so a batch of machines
 * probes once.  The file is read as hostile input: bounded, every line
 * checked; anything odd means "probe again".
 */
#include <config.h>

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "hypervisor.h"

/* The boot sector, assembled from probe-guest.S into .rodata. */
extern const unsigned char hv_probe_guest[], hv_probe_guest_end[];

#define PROBE_MARKER "HVCONVERT-KVM-PROBE-OK"
#define PROBE_EXIT_STATUS 0x43    /* isa-debug-exit: (0x21 << 1) | 1 */
#define TCG_DEADLINE 30.0         /* the TCG run takes under a second */
#define KVM_DEADLINE_MIN 3.0
#define CACHE_MAGIC "hvconvert-kvm-probe 1"
#define CACHE_MAX 4096

static enum hv_cache_mode cache_mode = HV_CACHE_USE;

void
hv_set_cache_mode (enum hv_cache_mode m)
{
  cache_mode = m;
}

const char *
hv_accel_name (enum hv_accel a)
{
  return a == HV_ACCEL_KVM ? "kvm" : "tcg";
}

char *
hv_cache_dir (void)
{
  const char *env = getenv ("HVCONVERT_CACHE_DIR");
  const char *xdg = getenv ("XDG_CACHE_HOME");
  const char *home = getenv ("HOME");
  char *dir = NULL;
  int r;

  if (env && *env)
    r = asprintf (&dir, "%s", env);
  else if (geteuid () == 0)
    r = asprintf (&dir, "/var/cache/hvconvert");
  else if (xdg && *xdg == '/')
    r = asprintf (&dir, "%s/hvconvert", xdg);
  else
    r = asprintf (&dir, "%s/.cache/hvconvert", home ? home : "/tmp");
  return r == -1 ? NULL : dir;
}

/* "kernel=6.1.0-56-amd64 qemu=7.2.22 binary=qemu-system-x86_64": what
 * the answer depends on. */
static char *
cache_key (void)
{
  const char *v = hv_qemu_version ();
  struct utsname u;
  char *key;

  if (v == NULL || uname (&u) == -1)
    return NULL;
  if (asprintf (&key, "kernel=%s qemu=%s binary=%s", u.release, v,
                hv_qemu_binary ()) == -1)
    return NULL;
  return key;
}

/* ---------------------------------------------------------------- */
/* The cache file. */

/* Parse the cache text: its key must be KEY.  0 on success, -1 if the
 * file is not a valid answer for this key (not reported). */
static int
cache_parse (char *text, const char *key, struct hv_kvm_answer *a)
{
  char *save = NULL, *line;
  int usable = -1, fields = 0;

  line = strtok_r (text, "\n", &save);
  if (line == NULL || strcmp (line, CACHE_MAGIC) != 0)
    return -1;
  while ((line = strtok_r (NULL, "\n", &save)) != NULL) {
    if (strncmp (line, "key ", 4) == 0)
      fields += strcmp (line + 4, key) == 0;
    else if (strcmp (line, "usable 0") == 0 || strcmp (line, "usable 1") == 0)
      usable = line[7] - '0', fields++;
    else if (sscanf (line, "kvm_seconds %lf", &a->kvm_seconds) == 1 ||
             sscanf (line, "tcg_seconds %lf", &a->tcg_seconds) == 1)
      fields++;
    else if (strncmp (line, "why ", 4) == 0)
      snprintf (a->why, sizeof a->why, "%s", line + 4), fields++;
  }
  if (fields != 5 || usable == -1)
    return -1;
  a->usable = usable;
  return 0;
}

static int
cache_read (const char *key, struct hv_kvm_answer *a)
{
  CLEANUP_CLOSE int fd = open (a->cache_file, O_RDONLY | O_CLOEXEC |
                               O_NOFOLLOW);
  char buf[CACHE_MAX + 1];
  ssize_t n;

  if (fd == -1 || (n = read (fd, buf, CACHE_MAX)) <= 0)
    return -1;
  buf[n] = '\0';
  if (cache_parse (buf, key, a) == -1) {
    hv_debug ("%s: not an answer for %s; probing again", a->cache_file,
              key);
    return -1;
  }
  a->from_cache = true;
  return 0;
}

/* Write the answer under a temporary name and rename it: a reader never
 * sees half a file.  A cache that cannot be written is only a warning. */
static void
cache_write (const char *key, const struct hv_kvm_answer *a)
{
  CLEANUP_FREE char *dir = hv_cache_dir ();
  CLEANUP_FREE char *tmp = NULL;
  FILE *f;

  if (dir == NULL || asprintf (&tmp, "%s.%d", a->cache_file,
                               (int) getpid ()) == -1)
    return;
  mkdir (dir, 0755);
  f = fopen (tmp, "we");
  if (f == NULL) {
    hv_warning (HV_E_IO, "%s: cannot cache the KVM probe's answer: %m", tmp);
    return;
  }
  fprintf (f, "%s\nkey %s\nusable %d\nkvm_seconds %.3f\ntcg_seconds %.3f\n"
           "why %s\n", CACHE_MAGIC, key, a->usable, a->kvm_seconds,
           a->tcg_seconds, a->why);
  if (fclose (f) != 0 || rename (tmp, a->cache_file) == -1) {
    hv_warning (HV_E_IO, "%s: cannot cache the KVM probe's answer: %m",
                a->cache_file);
    unlink (tmp);
  }
}

/* ---------------------------------------------------------------- */
/* The probe runs. */

struct probe_run {
  const char *dir;           /* private work directory */
  const char *disk;          /* the boot sector as a raw disk */
  enum hv_accel accel;
  double deadline;           /* seconds from the start */
  double seconds;            /* how long it took */
  char detail[256];          /* why it failed */
};

static int
probe_argv (const struct probe_run *p, const char *serial,
            struct hv_argv *a)
{
  hv_argv_add (a, hv_qemu_binary ());
  hv_argv_add (a, "-nodefaults");
  hv_argv_add (a, "-no-user-config");
  hv_argv_add (a, "-machine");
  hv_argv_addf (a, "pc,accel=%s", hv_accel_name (p->accel));
  if (p->accel == HV_ACCEL_KVM) {
    /* The CPU model the profiles use under KVM. */
    hv_argv_add (a, "-cpu");
    hv_argv_add (a, "host");
  }
  hv_argv_add (a, "-m");
  hv_argv_add (a, "128");
  hv_argv_add (a, "-display");
  hv_argv_add (a, "none");
  hv_argv_add (a, "-no-reboot");
  hv_argv_add (a, "-chardev");
  hv_argv_add_opt (a, "file,id=com1,path=", serial, "");
  hv_argv_add (a, "-serial");
  hv_argv_add (a, "chardev:com1");
  hv_argv_add (a, "-device");
  hv_argv_add (a, "isa-debug-exit,iobase=0xf4,iosize=4");
  hv_argv_add (a, "-drive");
  hv_argv_add_opt (a, "file=", p->disk, ",format=raw,if=ide,snapshot=on");
  return hv_argv_end (a);
}

/* The last line QEMU printed on stderr (an abort says why). */
static void
last_error_line (const char *file, char *out, size_t n)
{
  CLEANUP_CLOSE int fd = open (file, O_RDONLY | O_CLOEXEC);
  char buf[2048];
  ssize_t len;
  char *p;

  out[0] = '\0';
  if (fd == -1 || (len = read (fd, buf, sizeof buf - 1)) <= 0)
    return;
  buf[len] = '\0';
  if ((p = strstr (buf, "error")) == NULL && (p = strstr (buf, "failed")) ==
      NULL)
    p = buf;
  snprintf (out, n, "%.*s", (int) strcspn (p, "\n"), p);
}

static bool
file_has (const char *file, const char *text)
{
  CLEANUP_CLOSE int fd = open (file, O_RDONLY | O_CLOEXEC);
  char buf[256];
  ssize_t n;

  if (fd == -1 || (n = read (fd, buf, sizeof buf - 1)) <= 0)
    return false;
  buf[n] = '\0';
  return strstr (buf, text) != NULL;
}

/* Wait for the run, judge it.  Returns 1 passed, 0 failed (P->detail). */
static int
probe_wait (struct probe_run *p, pid_t pid, const char *serial,
            const char *errlog, double start)
{
  int status = 0, w = hv_wait_until (pid, start + p->deadline, &status);

  p->seconds = now_seconds () - start;
  if (w != 1) {
    hv_stop (pid, 1);
    snprintf (p->detail, sizeof p->detail, "the probe guest did not finish "
              "in %.1f s", p->deadline);
    return 0;
  }
  if (WIFEXITED (status) && WEXITSTATUS (status) == PROBE_EXIT_STATUS &&
      file_has (serial, PROBE_MARKER))
    return 1;
  last_error_line (errlog, p->detail, sizeof p->detail);
  if (p->detail[0] == '\0')
    snprintf (p->detail, sizeof p->detail, "QEMU exited with status %d "
              "without the probe's marker", WIFEXITED (status) ?
              WEXITSTATUS (status) : 128 + WTERMSIG (status));
  return 0;
}

/* Returns 1 passed, 0 failed (P->detail says how), -1 after reporting. */
static int
probe_run (struct probe_run *p)
{
  CLEANUP_FREE char *serial = NULL, *errlog = NULL;
  struct hv_argv a = { 0 };
  struct hv_spawn_io io = { -1, -1, -1 };
  double start;
  pid_t pid;
  int r = -1;

  if (asprintf (&serial, "%s/%s.serial", p->dir, hv_accel_name (p->accel))
      == -1 || asprintf (&errlog, "%s/%s.log", p->dir,
                          hv_accel_name (p->accel)) == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  io.stdout_fd = io.stderr_fd = open (errlog, O_WRONLY | O_CREAT | O_TRUNC |
                                      O_CLOEXEC, 0600);
  if (io.stderr_fd >= 0 && probe_argv (p, serial, &a) == 0) {
    start = now_seconds ();
    if (hv_spawn (a.v.ptr, &io, &pid) == 0)
      r = probe_wait (p, pid, serial, errlog, start);
  }
  else if (io.stderr_fd == -1)
    hv_error (HV_E_IO, "%s: %m", errlog);
  if (io.stderr_fd >= 0)
    close (io.stderr_fd);
  hv_argv_free (&a);
  hv_debug ("%s probe: %s in %.2f s %s", hv_accel_name (p->accel),
            r == 1 ? "passed" : "failed", p->seconds, p->detail);
  return r;
}

static int
write_probe_disk (const char *path)
{
  const size_t len = hv_probe_guest_end - hv_probe_guest;
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  if (len != 512) {
    hv_error (HV_E_INTERNAL, "the probe guest is %zu bytes, not 512", len);
    if (fd >= 0)
      close (fd);
    return -1;
  }
  if (fd == -1 || full_write (fd, hv_probe_guest, len) == -1) {
    hv_error (HV_E_IO, "%s: %m", path);
    if (fd >= 0)
      close (fd);
    return -1;
  }
  return close (fd);
}

/* Both runs in DIR.  -1 after reporting if TCG itself fails. */
static int
probe_both (const char *dir, struct hv_kvm_answer *a)
{
  CLEANUP_FREE char *disk = NULL;
  struct probe_run tcg = { .dir = dir, .accel = HV_ACCEL_TCG,
    .deadline = TCG_DEADLINE };
  struct probe_run kvm = { .dir = dir, .accel = HV_ACCEL_KVM };
  int r;

  if (asprintf (&disk, "%s/probe.img", dir) == -1 ||
      write_probe_disk (disk) == -1)
    return -1;
  tcg.disk = kvm.disk = disk;
  if ((r = probe_run (&tcg)) != 1) {
    if (r == 0)
      hv_error (HV_E_UNSUPPORTED, "QEMU cannot run even the TCG probe "
                "guest: %s", tcg.detail);
    return -1;
  }
  a->tcg_seconds = tcg.seconds;
  kvm.deadline = MAX (KVM_DEADLINE_MIN, 3 * tcg.seconds);
  if ((r = probe_run (&kvm)) == -1)
    return -1;
  a->kvm_seconds = kvm.seconds;
  a->usable = r == 1;
  if (a->usable)
    snprintf (a->why, sizeof a->why, "KVM ran the probe guest in %.2f s "
              "(TCG: %.2f s)", kvm.seconds, tcg.seconds);
  else
    snprintf (a->why, sizeof a->why, "KVM did not run the probe guest "
              "(TCG ran it in %.2f s): %s", tcg.seconds, kvm.detail);
  return 0;
}

static int
probe (struct hv_kvm_answer *a)
{
  char *dir;
  int r;

  if (access ("/dev/kvm", R_OK | W_OK) == -1) {
    snprintf (a->why, sizeof a->why, "/dev/kvm: %s", strerror (errno));
    return 0;
  }
  dir = hv_private_dir ("hvconvert-kvm-probe");
  if (dir == NULL)
    return -1;
  r = probe_both (dir, a);
  if (r == 0 || !hv_verbose)
    hv_remove_tree (dir);
  free (dir);
  return r;
}

/* ---------------------------------------------------------------- */

static int
answer_now (struct hv_kvm_answer *a)
{
  CLEANUP_FREE char *dir = hv_cache_dir ();
  CLEANUP_FREE char *key = cache_key ();

  *a = (struct hv_kvm_answer) { .kvm_seconds = -1, .tcg_seconds = -1 };
  if (key == NULL)
    return -1;                  /* QEMU cannot run: reported */
  snprintf (a->cache_file, sizeof a->cache_file, "%s/kvm-probe",
            dir ? dir : ".");
  if (cache_mode == HV_CACHE_USE && cache_read (key, a) == 0)
    return 0;
  /* An interrupted probe proves nothing: neither answer nor cache. */
  if (probe (a) == -1 || hv_check_interrupted () == -1)
    return -1;
  /* Only a real probe's answer is cached: a missing /dev/kvm is cheap to
   * see and may appear later. */
  if (cache_mode != HV_CACHE_OFF && a->tcg_seconds >= 0)
    cache_write (key, a);
  return 0;
}

int
hv_kvm_answer (struct hv_kvm_answer *a)
{
  static struct hv_kvm_answer saved;
  static int state;           /* 0 not asked, 1 answered, -1 failed */

  if (state == 0)
    state = answer_now (&saved) == 0 ? 1 : -1;
  *a = saved;
  return state == 1 ? 0 : -1;
}

enum hv_accel
hv_accelerator (void)
{
  const char *force = getenv ("HVCONVERT_ACCEL");
  struct hv_kvm_answer a;

  /* For tests and for people who know better than the probe. */
  if (force && strcmp (force, "tcg") == 0)
    return HV_ACCEL_TCG;
  if (force && strcmp (force, "kvm") == 0)
    return HV_ACCEL_KVM;
  return hv_kvm_answer (&a) == 0 && a.usable ? HV_ACCEL_KVM : HV_ACCEL_TCG;
}

const char *
hv_guestfs_backend_settings (void)
{
  return hv_accelerator () == HV_ACCEL_KVM ? "" : "force_tcg";
}
