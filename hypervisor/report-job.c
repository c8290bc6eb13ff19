/* The report job: a one-shot script put into a Linux guest's root file
 * system, on the throw-away overlay only, that tells the verifier what
 * booted.
 *
 * The fast way, without libguestfs (whose appliance alone takes about
 * 15 s to start under TCG, as long as the whole boot we verify):
 * qemu-storage-daemon exports the qcow2 overlay as a raw file through
 * FUSE, and debugfs (e2fsprogs) reads and writes the ext2/3/4 root file
 * system inside it at its partition's offset.  Writes land in the
 * overlay; the verified disk is only read.  This takes a fraction of a
 * second.  It handles guests whose root is ext2/3/4 on an MBR or GPT
 * partition (or the whole disk); others (LVM, XFS, Btrfs) get no report
 * job, and the verdict says so.
 *
 * Where the job goes, chosen by looking at the guest (first match):
 *
 *   guest has                          the job is
 *   /sbin/init -> systemd              a unit in /etc/systemd/system,
 *                                      wanted by multi-user.target
 *   a hook directory (table below)     an executable script there
 *   /etc/rc2.d (SysV init)             /etc/init.d/ script + S99 links
 *
 * The report carries a nonce from OpenSSL's RAND_bytes, made for this
 * run and written only into the overlay, and goes to the second serial
 * port (ttyS1), which nothing else uses: an old log, or a guest that
 * happens to print the marker, cannot fake it.
 */
#include <config.h>

#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>

#include "hypervisor.h"

#define JOB_NAME "hvconvert-report"
#define TOOL_TIMEOUT 60.0
#define EXPORT_TIMEOUT 15.0
/* Partition tables read: MBR primaries, or GPT entries up to this. */
#define GPT_MAX_ENTRIES 128

/* Directories whose executable scripts a simple init runs at boot, in
 * the order tried. */
static const char *const hook_dirs[] = {
  "/etc/hvconvert-sample/rc.d",   /* the sample server (fixtures/) */
  "/etc/local.d",                 /* OpenRC's local service: NAME.start */
};

/* The job itself: POSIX sh and busybox-safe commands only.  %s is the
 * nonce. */
static const char job_script[] =
  "#!/bin/sh\n"
  "# hvconvert verify: one-shot report job (on a throw-away overlay).\n"
  "N=%s\n"
  "say () { echo \"HVCONVERT-REPORT $N $*\"; }\n"
  "mods () {\n"
  "  for m in hv_vmbus hv_storvsc hv_netvsc hv_utils; do\n"
  "    if [ -d /sys/module/$m ]; then printf '%%s ' $m; fi\n"
  "  done\n"
  "}\n"
  "avail () {\n"
  "  d=/lib/modules/$(uname -r)\n"
  "  for m in hv_vmbus hv_storvsc hv_netvsc hv_utils; do\n"
  "    if grep -q \"/$m.ko\" $d/modules.builtin $d/modules.dep 2>/dev/null;"
  " then printf '%%s ' $m; fi\n"
  "  done\n"
  "}\n"
  "root=$(while read -r dev mnt rest; do\n"
  "  [ \"$mnt\" = / ] && [ \"$dev\" != rootfs ] && echo \"$dev\"; done"
  " </proc/mounts)\n"
  "vmbus=0\n"
  "for d in /sys/bus/vmbus/devices/*; do [ -e \"$d\" ] &&"
  " vmbus=$((vmbus + 1)); done\n"
  "{\n"
  "  say begin\n"
  "  say kernel $(uname -r)\n"
  "  say root $root\n"
  "  say cmdline $(cat /proc/cmdline)\n"
  "  say uptime $(cut -d' ' -f1 /proc/uptime)\n"
  "  say hv-modules-loaded $(mods)\n"
  "  say hv-modules-available $(avail)\n"
  "  say vmbus-devices $vmbus\n"
  "  say end\n"
  "} >/dev/ttyS1 2>/dev/null\n"
  "sleep 1\n"
  "poweroff -f 2>/dev/null || poweroff 2>/dev/null ||"
  " echo o >/proc/sysrq-trigger\n";

static const char systemd_unit[] =
  "[Unit]\n"
  "Description=hvconvert verify report (one shot, throw-away overlay)\n"
  "After=local-fs.target\n\n"
  "[Service]\n"
  "Type=oneshot\n"
  "ExecStart=/etc/" JOB_NAME "\n\n"
  "[Install]\n"
  "WantedBy=multi-user.target\n";

/* ---------------------------------------------------------------- */
/* Finding ext2/3/4 file systems. */

DEFINE_VECTOR (offset_vector, uint64_t)

/* An ext2/3/4 superblock at OFFSET (magic 0xEF53 at byte 56 of the
 * superblock, which starts 1024 bytes in). */
static bool
is_ext (int fd, uint64_t offset)
{
  uint8_t sb[64];

  return full_pread (fd, sb, sizeof sb, offset + 1024) == 0 &&
    load_le16 (sb + 56) == 0xef53;
}

static void
add_if_ext (int fd, uint64_t lba, struct offset_vector *out)
{
  uint64_t off;

  if (lba && !ckd_mul (&off, lba, (uint64_t) 512) && is_ext (fd, off))
    offset_vector_append (out, off);
}

/* GPT: the header at LBA 1 says where the entries are; each entry's
 * first LBA is at byte 32. */
static void
gpt_filesystems (int fd, struct offset_vector *out)
{
  uint8_t h[92], e[128];
  uint64_t table, off;
  uint32_t n, size;

  if (full_pread (fd, h, sizeof h, 512) == -1 || memcmp (h, "EFI PART", 8))
    return;
  table = load_le64 (h + 72);
  n = MIN (load_le32 (h + 80), GPT_MAX_ENTRIES);
  size = load_le32 (h + 84);
  if (size < 128 || size > 4096 || ckd_mul (&table, table, (uint64_t) 512))
    return;
  for (uint32_t i = 0; i < n; i++)
    if (!ckd_add (&off, table, (uint64_t) i * size) &&
        full_pread (fd, e, sizeof e, off) == 0)
      add_if_ext (fd, load_le64 (e + 32), out);
}

/* The offsets of every ext file system on the disk FD. */
static void
find_filesystems (int fd, struct offset_vector *out)
{
  uint8_t mbr[512];

  if (full_pread (fd, mbr, sizeof mbr, 0) == -1)
    return;
  if (is_ext (fd, 0))
    offset_vector_append (out, 0);
  if (mbr[510] != 0x55 || mbr[511] != 0xaa)
    return;
  for (int i = 0; i < 4; i++) {
    const uint8_t *p = mbr + 446 + 16 * i;
    if (p[4] == 0xee)
      gpt_filesystems (fd, out);
    else if (p[4] != 0 && p[4] != 0x05 && p[4] != 0x0f)
      add_if_ext (fd, load_le32 (p + 8), out);
  }
}

/* ---------------------------------------------------------------- */
/* debugfs on the export. */

/* Run debugfs on the file system at OFFSET of IMAGE with the commands
 * in CMDS (a file), read-write if WRITE.  Its output in *OUT. */
static int
debugfs (const char *image, uint64_t offset, const char *cmds, bool write,
         char **out)
{
  CLEANUP_FREE char *spec = NULL;
  char *argv[] = { "debugfs", write ? "-w" : "-c", "-f", (char *) cmds,
                   NULL, NULL };

  /* -c (catastrophic mode) reads without the bitmaps: faster, and
   * read-only. */

  /* "FILE?offset=N": e2fsprogs' unix I/O manager option. */
  if (asprintf (&spec, "%s?offset=%llu", image, (unsigned long long) offset)
      == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  argv[4] = spec;
  return hv_run (argv, TOOL_TIMEOUT, out) == 0 ? 0 : -1;
}

static int
write_file (const char *path, const char *text, mode_t mode)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

  if (fd == -1 || full_write (fd, text, strlen (text)) == -1 ||
      fchmod (fd, mode) == -1) {
    hv_error (HV_E_IO, "%s: %m", path);
    if (fd >= 0)
      close (fd);
    return -1;
  }
  return close (fd);
}

/* What the guest has, from one read-only debugfs run of "stat PATH"
 * commands. */
enum init_kind { INIT_NONE, INIT_SYSTEMD, INIT_HOOK_DIR, INIT_SYSV };
struct guest {
  bool fstab;                 /* /etc/fstab: a root file system */
  enum init_kind init;        /* where the job goes */
  const char *hook_dir;       /* INIT_HOOK_DIR: one of hook_dirs */
};

/* debugfs echoes each command as "debugfs: stat PATH" on stdout, then
 * the inode ("Inode: N ...") there too, while "File not found" goes to
 * stderr, in no fixed order with stdout.  So the stdout text between
 * the echo of PATH and the next echo is PATH's, and holds "Inode:"
 * exactly when PATH exists.  Returns that text's start, or NULL. */
static const char *
stat_of (const char *out, const char *path, const char **end)
{
  CLEANUP_FREE char *echo = NULL;
  const char *p;

  if (out == NULL || asprintf (&echo, "debugfs: stat %s\n", path) == -1 ||
      (p = strstr (out, echo)) == NULL)
    return NULL;
  p += strlen (echo);
  *end = strstr (p, "debugfs: ");
  if (*end == NULL)
    *end = p + strlen (p);
  return p;
}

static bool
present (const char *out, const char *path)
{
  const char *end, *p = stat_of (out, path, &end);
  const char *inode = p ? strstr (p, "Inode:") : NULL;

  return inode && inode < end;
}

/* /sbin/init a symbolic link to systemd ("Fast link dest:" in its
 * stat; a target longer than 59 bytes is not shown). */
static bool
init_is_systemd (const char *out)
{
  const char *end, *p = stat_of (out, "/sbin/init", &end);
  const char *s = p ? strstr (p, "systemd") : NULL;

  return s && s < end;
}

/* The guest's init, in the order of the table at the top. */
static void
choose_init (const char *out, struct guest *g)
{
  for (size_t i = 0; i < ARRAY_SIZE (hook_dirs) && !g->hook_dir; i++)
    if (present (out, hook_dirs[i]))
      g->hook_dir = hook_dirs[i];
  if (init_is_systemd (out))
    g->init = INIT_SYSTEMD;
  else if (g->hook_dir)
    g->init = INIT_HOOK_DIR;
  else if (present (out, "/etc/rc2.d"))
    g->init = INIT_SYSV;
  else if (present (out, "/lib/systemd/systemd") ||
           present (out, "/usr/lib/systemd/systemd"))
    g->init = INIT_SYSTEMD;
}

static int
inspect (const char *image, uint64_t offset, const char *dir,
         struct guest *g)
{
  CLEANUP_FREE char *cmds = NULL, *out = NULL;
  FILE *f;

  if (asprintf (&cmds, "%s/inspect.cmds", dir) == -1 ||
      (f = fopen (cmds, "we")) == NULL) {
    hv_error (HV_E_IO, "%s: %m", dir);
    return -1;
  }
  fprintf (f, "stat /etc/fstab\nstat /sbin/init\nstat /etc/rc2.d\n"
           "stat /lib/systemd/systemd\nstat /usr/lib/systemd/systemd\n");
  for (size_t i = 0; i < ARRAY_SIZE (hook_dirs); i++)
    fprintf (f, "stat %s\n", hook_dirs[i]);
  fclose (f);
  if (debugfs (image, offset, cmds, false, &out) == -1)
    return -1;
  *g = (struct guest) { .fstab = present (out, "/etc/fstab") };
  choose_init (out, g);
  return 0;
}

/* The debugfs commands that put the job in, and where it goes (into
 * J->how). */
static void
plan (FILE *f, const struct guest *g, const char *dir,
      struct hv_report_job *j)
{
  const char *target = "/etc/" JOB_NAME;

  if (g->init == INIT_SYSTEMD) {
    fprintf (f, "mkdir /etc/systemd/system/multi-user.target.wants\n"
             "write %s/unit /etc/systemd/system/" JOB_NAME ".service\n"
             "symlink /etc/systemd/system/multi-user.target.wants/"
             JOB_NAME ".service /etc/systemd/system/" JOB_NAME
             ".service\n", dir);
    snprintf (j->how, sizeof j->how, "systemd unit %s.service", JOB_NAME);
  }
  else if (g->init == INIT_HOOK_DIR) {
    snprintf (j->how, sizeof j->how, "%s/%s", g->hook_dir,
              strcmp (g->hook_dir, "/etc/local.d") == 0 ? JOB_NAME ".start"
              : JOB_NAME);
    target = j->how;
  }
  else {
    for (int rl = 2; rl <= 5; rl++)
      fprintf (f, "symlink /etc/rc%d.d/S99" JOB_NAME " ../init.d/" JOB_NAME
               "\n", rl);
    target = "/etc/init.d/" JOB_NAME;
    snprintf (j->how, sizeof j->how, "SysV init script %s", target);
  }
  fprintf (f, "write %s/job %s\nsif %s mode 0100755\nsif %s uid 0\n"
           "sif %s gid 0\n", dir, target, target, target, target);
}

/* Write the job, then read it back: debugfs does not fail on a command
 * that fails, so the read-back is the proof. */
static int
put_job (const char *image, uint64_t offset, const char *dir,
         const struct guest *g, struct hv_report_job *j)
{
  CLEANUP_FREE char *cmds = NULL, *script = NULL, *unit = NULL;
  CLEANUP_FREE char *job = NULL, *out = NULL, *check = NULL;
  FILE *f;

  if (asprintf (&cmds, "%s/write.cmds", dir) == -1 ||
      asprintf (&check, "%s/check.cmds", dir) == -1 ||
      asprintf (&job, "%s/job", dir) == -1 ||
      asprintf (&unit, "%s/unit", dir) == -1 ||
      asprintf (&script, job_script, j->nonce) == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  if (write_file (job, script, 0755) == -1 ||
      write_file (unit, systemd_unit, 0644) == -1 ||
      (f = fopen (cmds, "we")) == NULL)
    return -1;
  plan (f, g, dir, j);
  fclose (f);
  if (debugfs (image, offset, cmds, true, NULL) == -1)
    return -1;
  f = fopen (check, "we");
  if (f == NULL)
    return -1;
  fprintf (f, "cat %s\n", g->init == INIT_SYSTEMD ? "/etc/" JOB_NAME
           : g->init == INIT_HOOK_DIR ? j->how : "/etc/init.d/" JOB_NAME);
  fclose (f);
  if (debugfs (image, offset, check, false, &out) == -1)
    return -1;
  return out && strstr (out, j->nonce) ? 0 : 1;
}

/* ---------------------------------------------------------------- */
/* The FUSE export of the overlay. */

struct export {
  pid_t pid;
  char *file;                 /* the mount point: a raw view */
};

/* Wait until FILE is a mount point (its device differs from its
 * directory's). */
static int
wait_mounted (const char *file, const char *dir, pid_t pid, double deadline)
{
  struct stat a, b;
  int status;

  while (now_seconds () < deadline && !hv_interrupted) {
    if (stat (file, &a) == 0 && stat (dir, &b) == 0 && a.st_dev != b.st_dev)
      return 0;
    if (hv_wait_until (pid, now_seconds () + 0.02, &status) == 1) {
      hv_error (HV_E_IO, "qemu-storage-daemon exited: cannot export the "
                "overlay through FUSE");
      return -1;
    }
  }
  hv_error (HV_E_IO, "qemu-storage-daemon did not export the overlay in "
            "%.0f s", EXPORT_TIMEOUT);
  return -1;
}

static int
export_start (const char *overlay, const char *dir, struct export *e)
{
  struct hv_argv a = { 0 };
  CLEANUP_FREE char *log = NULL;
  struct hv_spawn_io io = { -1, -1, -1 };
  int r = -1;

  if (asprintf (&e->file, "%s/export.raw", dir) == -1 ||
      asprintf (&log, "%s/export.log", dir) == -1 ||
      write_file (e->file, "", 0600) == -1)
    return -1;
  hv_argv_add (&a, "qemu-storage-daemon");
  hv_argv_add (&a, "--blockdev");
  hv_argv_add_opt (&a, "driver=file,node-name=file,filename=", overlay, "");
  hv_argv_add (&a, "--blockdev");
  hv_argv_add (&a, "driver=qcow2,node-name=disk,file=file");
  hv_argv_add (&a, "--export");
  hv_argv_add_opt (&a, "type=fuse,id=exp,node-name=disk,writable=on,"
                   "mountpoint=", e->file, "");
  io.stderr_fd = open (log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (hv_argv_end (&a) == 0 && hv_spawn (a.v.ptr, &io, &e->pid) == 0) {
    r = wait_mounted (e->file, dir, e->pid, now_seconds () + EXPORT_TIMEOUT);
    if (r == -1) {
      hv_stop (e->pid, 5);
      e->pid = 0;
    }
  }
  if (io.stderr_fd >= 0)
    close (io.stderr_fd);
  hv_argv_free (&a);
  return r;
}

/* Stop the daemon: on SIGTERM it unmounts, flushes and closes the
 * overlay, which QEMU can then lock. */
static void
export_stop (struct export *e)
{
  if (e->pid > 0)
    hv_stop (e->pid, 30);
  free (e->file);
}

/* ---------------------------------------------------------------- */

static int
make_nonce (char nonce[HV_NONCE_LEN + 1])
{
  uint8_t r[HV_NONCE_LEN / 2];

  if (RAND_bytes (r, sizeof r) != 1) {
    hv_error (HV_E_INTERNAL, "cannot generate a nonce (OpenSSL RAND_bytes)");
    return -1;
  }
  for (size_t i = 0; i < sizeof r; i++)
    snprintf (nonce + 2 * i, 3, "%02x", r[i]);
  return 0;
}

/* Find the root among the ext file systems and put the job there. */
static int
install (const char *image, const char *dir, struct hv_report_job *j)
{
  struct offset_vector fs = { 0 };
  CLEANUP_CLOSE int fd = open (image, O_RDONLY | O_CLOEXEC);
  struct guest g;
  int r = 1;

  snprintf (j->how, sizeof j->how, "no ext2/3/4 root file system found "
            "(the report job needs one; LVM, XFS and Btrfs roots are not "
            "handled yet)");
  if (fd == -1) {
    hv_error (HV_E_IO, "%s: %m", image);
    return -1;
  }
  find_filesystems (fd, &fs);
  for (size_t i = 0; i < fs.len && r == 1; i++) {
    if (inspect (image, fs.ptr[i], dir, &g) == -1) {
      r = -1;
      break;
    }
    if (g.fstab && g.init == INIT_NONE)
      snprintf (j->how, sizeof j->how, "the root file system has no init "
                "this verifier knows (systemd, SysV, a boot hook "
                "directory)");
    else if (g.fstab && (r = put_job (image, fs.ptr[i], dir, &g, j)) == 1)
      snprintf (j->how, sizeof j->how, "debugfs could not write the report "
                "job into the root file system");
  }
  free (fs.ptr);
  return r;
}

int
hv_report_job_install (const char *original, const char *overlay,
                       const char *workdir, struct hv_report_job *j)
{
  struct export e = { 0 };
  const double start = now_seconds ();
  int r;

  *j = (struct hv_report_job) { 0 };
  if (make_nonce (j->nonce) == -1)
    return -1;
  if (export_start (overlay, workdir, &e) == -1) {
    export_stop (&e);
    return -1;
  }
  r = install (e.file, workdir, j);
  export_stop (&e);
  j->installed = r == 0;
  hv_debug ("%s: report job %s: %s (%.2f s)", original,
            j->installed ? "installed" : "not installed", j->how,
            now_seconds () - start);
  return r;
}
