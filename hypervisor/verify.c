/* Boot verification: boot a machine on throw-away overlays and say what
 * happened.
 *
 *   1. a private work directory; a qcow2 overlay per disk (the disks are
 *      only ever read), the report job put into the boot disk's overlay
 *      (report-job.c), a copy of the OVMF variables for gen2;
 *   2. one QEMU process with the profile's hardware, COM1 (console) and
 *      COM2 (report) and the firmware's debug port captured to files,
 *      QMP on a unix socket;
 *   3. every POLL_INTERVAL: the report (booted), the consoles (failure
 *      messages), QEMU's state (exited, powered off); every
 *      SCREEN_INTERVAL the VGA text screen, read through QMP (bootloader
 *      messages are only there); until a verdict or the deadline;
 *   4. a screenshot (QMP screendump, PNG), QEMU stopped (QMP quit, then
 *      signals), the work files removed; the logs stay in the log
 *      directory.
 */
#include <config.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hypervisor.h"
#include "importers.h"

#define POLL_INTERVAL 0.1
#define SCREEN_INTERVAL 1.0
#define QMP_TIMEOUT 10.0
/* How much of a log is searched: its tail, so a chatty guest costs
 * nothing. */
#define LOG_TAIL (256 * 1024)
#define LAST_LINES 10
/* VGA text mode: 80 x 25 cells of (character, attribute) at 0xb8000. */
#define VGA_TEXT 0xb8000
#define VGA_CELLS (80 * 25)

/* Everything one verification holds. */
struct run {
  const struct vm *vm;
  const struct hv_verify_opts *o;
  struct hv_verify_result *r;
  char *work;                  /* private: overlays, socket, temporaries */
  char *base;                  /* the private directory work is in */
  struct string_vector drives, formats;
  struct hv_report_job job;
  char *qmp_path, *qemu_log, *screen_bin, *vars;
  struct hv_qmp *qmp;
  pid_t pid;
  double start, next_screen;
  char *screen_text;           /* the last VGA text screen read */
};

static char *
path_in (const char *dir, const char *name)
{
  char *p;

  if (asprintf (&p, "%s/%s", dir, name) == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return NULL;
  }
  return p;
}

/* The last LOG_TAIL bytes of FILE as a string; "" if it is missing. */
static char *
read_tail (const char *file)
{
  CLEANUP_CLOSE int fd = open (file, O_RDONLY | O_CLOEXEC);
  struct stat st;
  uint64_t off = 0;
  size_t len = 0;
  char *buf;

  if (fd >= 0 && fstat (fd, &st) == 0 && st.st_size > 0) {
    len = MIN ((uint64_t) st.st_size, (uint64_t) LOG_TAIL);
    off = st.st_size - len;
  }
  buf = calloc (1, len + 1);
  if (buf && len && full_pread (fd, buf, len, off) == -1)
    buf[0] = '\0';
  if (buf)             /* NULs from the guest would cut the text short */
    for (size_t i = 0; i < len; i++)
      if (buf[i] == '\0')
        buf[i] = ' ';
  return buf;
}

/* ---------------------------------------------------------------- */
/* Preparing. */

static int
make_dirs (struct run *s)
{
  s->base = hv_private_dir ("hvconvert-verify");
  if (s->base == NULL || (s->work = path_in (s->base, "work")) == NULL)
    return -1;
  if (mkdir (s->work, 0700) == -1) {
    hv_error (HV_E_IO, "%s: %m", s->work);
    return -1;
  }
  if (s->o->log_dir && mkdir (s->o->log_dir, 0755) == -1 && errno != EEXIST) {
    hv_error (HV_E_IO, "%s: cannot create the log directory: %m",
              s->o->log_dir);
    return -1;
  }
  s->r->log_dir = realpath (s->o->log_dir ? s->o->log_dir : s->base, NULL);
  if (s->r->log_dir == NULL ||
      (s->r->console_log = path_in (s->r->log_dir, "console.log")) == NULL ||
      (s->r->report_log = path_in (s->r->log_dir, "report.log")) == NULL ||
      (s->r->firmware_log = path_in (s->r->log_dir, "firmware.log")) == NULL
      || (s->r->screenshot = path_in (s->r->log_dir, "screen.png")) == NULL
      || (s->qemu_log = path_in (s->r->log_dir, "qemu.log")) == NULL ||
      (s->qmp_path = path_in (s->work, "qmp.sock")) == NULL ||
      (s->screen_bin = path_in (s->work, "screen.bin")) == NULL)
    return -1;
  /* A log of an earlier run in --log-dir must not be read as this
   * run's. */
  unlink (s->r->console_log);
  unlink (s->r->report_log);
  unlink (s->r->firmware_log);
  unlink (s->r->screenshot);
  return 0;
}

/* The overlay of disk I, backed by the disk in its detected format. */
static int
make_overlay (struct run *s, size_t i, const struct vm_disk *d)
{
  struct disk *disk = importer_open (d->path, d->format, 0);
  char name[32];
  char *overlay, *format;
  int r = -1;

  snprintf (name, sizeof name, "disk%zu.qcow2", i);
  overlay = path_in (s->work, name);
  format = disk ? strdup (hv_qemu_format (disk->ops->name)) : NULL;
  disk_close (disk);
  if (overlay && format && hv_overlay_create (d->path, format, overlay) == 0)
    r = 0;
  if (string_vector_append (&s->drives, overlay) == -1 ||
      string_vector_append (&s->formats, strdup ("qcow2")) == -1) {
    hv_error (HV_E_NOMEM, "%m");
    r = -1;
  }
  free (format);
  return r;
}

static int
make_overlays (struct run *s)
{
  for (size_t i = 0; i < s->vm->disks.len; i++) {
    const struct vm_disk *d = &s->vm->disks.ptr[i];
    if (d->path == NULL) {
      if (string_vector_append (&s->drives, NULL) == -1 ||
          string_vector_append (&s->formats, NULL) == -1)
        return -1;
      continue;
    }
    if (make_overlay (s, i, d) == -1)
      return -1;
  }
  return 0;
}

/* BIOS profiles: a boot disk that cannot boot is known before booting
 * (verdict.c).  Returns 1 with the verdict in R, 0 to boot, -1 after
 * reporting. */
static int
check_boot_sector (struct run *s)
{
  const struct vm_disk *d = s->vm->disks.len ? &s->vm->disks.ptr[0] : NULL;
  struct disk *disk;
  uint8_t sector[512];
  const char *why;
  int r;

  if (s->o->profile == HV_PROFILE_GEN2 || d == NULL || d->path == NULL ||
      d->media != VM_MEDIA_DISK)
    return 0;
  disk = importer_open (d->path, d->format, 0);
  r = disk && disk->size >= 512 ? disk_pread (disk, sector, 512, 0) : -1;
  disk_close (disk);
  if (r == -1)
    return disk ? 0 : -1;       /* a tiny disk: let the firmware say */
  s->r->verdict = hv_boot_sector_verdict (sector, &why);
  if (s->r->verdict == HV_VERDICT_NONE)
    return 0;
  s->r->why = strdup (why);
  return 1;
}

/* The report job goes into the first hard disk: the one that boots. */
static int
add_report_job (struct run *s)
{
  for (size_t i = 0; i < s->vm->disks.len; i++) {
    const struct vm_disk *d = &s->vm->disks.ptr[i];
    if (d->path && d->media == VM_MEDIA_DISK) {
      if (hv_report_job_install (d->path, s->drives.ptr[i], s->work,
                                 &s->job) == -1)
        return -1;
      break;
    }
  }
  if (!s->job.installed && s->job.how[0] == '\0')
    snprintf (s->job.how, sizeof s->job.how, "no hard disk to put it on");
  s->r->report_job = strdup (s->job.how);
  if (!s->job.installed)
    hv_warning (HV_E_UNSUPPORTED, "no report job in the guest: %s; the "
                "verdict cannot be \"booted\"", s->job.how);
  return 0;
}

/* gen2: OVMF writes its variables; they go to a copy. */
static int
copy_vars (struct run *s)
{
  const char *code, *vars;
  char *argv[] = { "cp", NULL, NULL, NULL };

  if (s->o->profile != HV_PROFILE_GEN2 || hv_ovmf_paths (&code, &vars) == -1)
    return 0;
  if ((s->vars = path_in (s->work, "OVMF_VARS.fd")) == NULL)
    return -1;
  argv[1] = (char *) vars;
  argv[2] = s->vars;
  return hv_run (argv, 30, NULL) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* Running. */

static int
start_qemu (struct run *s)
{
  const struct hv_machine m = {
    .profile = s->o->profile, .accel = s->r->accel, .vm = s->vm,
    .drives = s->drives.ptr, .drive_formats = s->formats.ptr,
    .console = s->r->console_log, .report = s->r->report_log,
    .firmware_log = s->r->firmware_log, .qmp_socket = s->qmp_path,
    .ovmf_vars = s->vars, .stop_on_reset = true,
  };
  struct hv_argv a = { 0 };
  struct hv_spawn_io io = { -1, -1, -1 };
  CLEANUP_FREE char *line = NULL;
  int r = -1;

  if (hv_machine_argv (&m, &a) == -1) {
    hv_argv_free (&a);
    return -1;
  }
  io.stdout_fd = io.stderr_fd = open (s->qemu_log, O_WRONLY | O_CREAT |
                                      O_TRUNC | O_CLOEXEC, 0644);
  if (io.stderr_fd == -1)
    hv_error (HV_E_IO, "%s: %m", s->qemu_log);
  else {
    line = hv_argv_string (a.v.ptr);
    hv_debug ("%s", line ? line : "");
    s->start = now_seconds ();
    r = hv_spawn (a.v.ptr, &io, &s->pid);
  }
  if (io.stderr_fd >= 0)
    close (io.stderr_fd);
  hv_argv_free (&a);
  if (r == 0 && (s->qmp = hv_qmp_connect (s->qmp_path, s->pid,
                                          now_seconds () + QMP_TIMEOUT))
      == NULL) {
    CLEANUP_FREE char *log = read_tail (s->qemu_log);
    hv_error (HV_E_IO, "QEMU did not start: %s", log ? log : "");
    r = -1;
  }
  return r;
}

/* Printable text of the VGA text screen, one line per row. */
static char *
screen_text (const char *bin)
{
  CLEANUP_CLOSE int fd = open (bin, O_RDONLY | O_CLOEXEC);
  uint8_t cells[VGA_CELLS * 2];
  char *text = calloc (1, VGA_CELLS + 25 + 1), *p = text;

  if (text == NULL || fd == -1 || full_pread (fd, cells, sizeof cells, 0))
    return text;
  for (int i = 0; i < VGA_CELLS; i++) {
    const uint8_t c = cells[2 * i];
    *p++ = isprint (c) ? c : ' ';
    if (i % 80 == 79)
      *p++ = '\n';
  }
  return text;
}

static void
read_screen (struct run *s)
{
  CLEANUP_FREE char *cmd = NULL, *q = NULL;
  size_t qlen = 0;

  if (now_seconds () < s->next_screen)
    return;
  s->next_screen = now_seconds () + SCREEN_INTERVAL;
  if (json_quote (&q, &qlen, s->screen_bin) == -1 ||
      asprintf (&cmd, "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":%d,"
                "\"size\":%d,\"filename\":%s}}", VGA_TEXT, VGA_CELLS * 2, q)
      == -1)
    return;
  if (hv_qmp_command (s->qmp, cmd, QMP_TIMEOUT) == 0) {
    free (s->screen_text);
    s->screen_text = screen_text (s->screen_bin);
  }
}

static enum hv_verdict
look (struct run *s, const char **why)
{
  CLEANUP_FREE char *report = read_tail (s->r->report_log);
  CLEANUP_FREE char *console = read_tail (s->r->console_log);
  CLEANUP_FREE char *firmware = read_tail (s->r->firmware_log);
  enum hv_verdict v;

  if (s->job.installed && report &&
      (s->r->report_json = hv_report_parse (report, s->job.nonce))) {
    *why = "the guest ran the report job: it booted to its init";
    return HV_VERDICT_BOOTED;
  }
  if ((v = hv_console_verdict (console, why)) != HV_VERDICT_NONE ||
      (v = hv_console_verdict (firmware, why)) != HV_VERDICT_NONE)
    return v;
  read_screen (s);
  return hv_console_verdict (s->screen_text, why);
}

/* Has QEMU gone, or the guest stopped?  A verdict, or NONE. */
static enum hv_verdict
machine_state (struct run *s, const char **why)
{
  int status;

  if (hv_wait_until (s->pid, 0, &status) == 1) {
    s->pid = 0;
    *why = "QEMU exited before the guest reported (see qemu.log)";
    return HV_VERDICT_STOPPED;
  }
  hv_qmp_poll (s->qmp);
  if (hv_qmp_saw_event (s->qmp, "SHUTDOWN") ||
      hv_qmp_saw_event (s->qmp, "RESET")) {
    *why = "the guest powered off or reset before it reported";
    return HV_VERDICT_STOPPED;
  }
  return HV_VERDICT_NONE;
}

static void
watch (struct run *s)
{
  const double deadline = s->start + s->o->timeout;
  const char *why = NULL;
  enum hv_verdict v = HV_VERDICT_NONE;

  while (v == HV_VERDICT_NONE && now_seconds () < deadline &&
         !hv_interrupted) {
    if ((v = look (s, &why)) != HV_VERDICT_NONE)
      break;
    if ((v = machine_state (s, &why)) != HV_VERDICT_NONE) {
      /* Its last words may have arrived with the stop. */
      enum hv_verdict last = look (s, &why);
      v = last != HV_VERDICT_NONE ? last : v;
      break;
    }
    hv_wait_until (s->pid, now_seconds () + POLL_INTERVAL, &(int) { 0 });
  }
  s->r->seconds = now_seconds () - s->start;
  if (v == HV_VERDICT_NONE) {
    v = HV_VERDICT_TIMEOUT;
    why = s->job.installed ? "no verdict before the timeout: see the last "
      "console lines" : "no verdict before the timeout, and no report job "
      "could be put into the guest";
  }
  s->r->verdict = v;
  s->r->why = strdup (why);
}

/* The screenshot, then QEMU stopped: QMP quit, then signals. */
static void
finish_qemu (struct run *s)
{
  CLEANUP_FREE char *cmd = NULL, *q = NULL;
  size_t qlen = 0;

  if (s->qmp && s->pid > 0 &&
      json_quote (&q, &qlen, s->r->screenshot) == 0 &&
      asprintf (&cmd, "{\"execute\":\"screendump\",\"arguments\":"
                "{\"filename\":%s,\"format\":\"png\"}}", q) != -1 &&
      hv_qmp_command (s->qmp, cmd, QMP_TIMEOUT) == -1) {
    free (s->r->screenshot);
    s->r->screenshot = NULL;
  }
  if (s->qmp && s->pid > 0)
    hv_qmp_command (s->qmp, "{\"execute\":\"quit\"}", 2);
  hv_qmp_close (s->qmp);
  s->qmp = NULL;
  if (s->pid > 0) {
    if (hv_wait_until (s->pid, now_seconds () + 5, &(int) { 0 }) != 1)
      hv_stop (s->pid, 2);
    s->pid = 0;
  }
}

/* The last LAST_LINES non-empty lines of the console. */
static char *
last_lines (const char *file)
{
  char *text = read_tail (file);
  char *p, *q;
  int n = 0;

  if (text == NULL)
    return NULL;
  for (p = text + strlen (text); p > text; p--)
    if (p[-1] == '\n' && p[0] && p[0] != '\n' && ++n == LAST_LINES)
      break;
  /* Keep printable characters and newlines; carriage returns and
   * terminal escapes (ESC [ parameters letter) go. */
  for (q = text; *p; p++) {
    if (p[0] == '\033' && p[1] == '[') {
      p += 2;
      p += strspn (p, "0123456789;?=");
      if (*p == '\0')
        break;
    }
    else if (isprint ((unsigned char) *p) || *p == '\n')
      *q++ = *p;
  }
  *q = '\0';
  return text;
}

/* A log that was never written is not pointed to. */
static void
forget_missing (char **path)
{
  if (*path && access (*path, F_OK) == -1) {
    free (*path);
    *path = NULL;
  }
}

static void
cleanup (struct run *s)
{
  hv_remove_tree (s->work);
  if (s->o->log_dir)
    hv_remove_tree (s->base);
  for (size_t i = 0; i < s->drives.len; i++) {
    free (s->drives.ptr[i]);
    free (s->formats.ptr[i]);
  }
  free (s->drives.ptr);
  free (s->formats.ptr);
  free (s->work);
  free (s->base);
  free (s->qmp_path);
  free (s->qemu_log);
  free (s->screen_bin);
  free (s->vars);
  free (s->screen_text);
}

int
hv_verify (const struct vm *vm, const struct hv_verify_opts *o,
           struct hv_verify_result *r)
{
  struct run s = { .vm = vm, .o = o, .r = r };
  int ret = -1, b = -1;

  *r = (struct hv_verify_result) { .verdict = HV_VERDICT_NONE };
  r->accel = hv_accelerator ();
  if (hv_profile_check (o->profile, r->accel) == -1)
    return -1;
  if (make_dirs (&s) == 0 && (b = check_boot_sector (&s)) == 1)
    ret = 0;
  else if (b == 0 && make_overlays (&s) == 0 &&
      add_report_job (&s) == 0 && copy_vars (&s) == 0 &&
      start_qemu (&s) == 0) {
    watch (&s);
    ret = hv_interrupted ? -1 : 0;
    if (hv_interrupted)
      hv_check_interrupted ();
  }
  finish_qemu (&s);
  if (ret == 0)
    r->last_lines = last_lines (r->console_log);
  forget_missing (&r->console_log);
  forget_missing (&r->report_log);
  forget_missing (&r->firmware_log);
  forget_missing (&r->screenshot);
  cleanup (&s);
  return ret;
}

void
hv_verify_result_free (struct hv_verify_result *r)
{
  free (r->why);
  free (r->report_json);
  free (r->log_dir);
  free (r->console_log);
  free (r->report_log);
  free (r->firmware_log);
  free (r->screenshot);
  free (r->last_lines);
  free (r->report_job);
}

char *
hv_verify_json (const struct vm *vm, const struct hv_verify_opts *o,
                const struct hv_verify_result *r)
{
  struct json *j = json_new (NULL);

  json_str (j, "name", vm->name);
  json_str (j, "verdict", hv_verdict_name (r->verdict));
  json_bool (j, "booted", r->verdict == HV_VERDICT_BOOTED);
  json_str (j, "why", r->why);
  json_str (j, "profile", hv_profile_name (o->profile));
  json_str (j, "accelerator", hv_accel_name (r->accel));
  json_double (j, "seconds", r->seconds);
  json_raw (j, "report", r->report_json);
  json_str_or_null (j, "report_job", r->report_job);
  json_str_or_null (j, "log_dir", r->log_dir);
  json_str_or_null (j, "console_log", r->console_log);
  json_str_or_null (j, "report_log", r->report_log);
  json_str_or_null (j, "firmware_log", r->firmware_log);
  json_str_or_null (j, "screenshot", r->screenshot);
  json_str_or_null (j, "last_console_lines", r->last_lines);
  return json_end (j);
}
