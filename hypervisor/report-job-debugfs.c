/* The report job's fast way in: the qcow2 overlay exported as a raw
 * file by qemu-storage-daemon through FUSE, and debugfs (e2fsprogs)
 * reading and writing the ext2/3/4 root file system inside it at its
 * partition's offset ("FILE?offset=N").  Writes land in the overlay;
 * the verified disk is only read.  One read-only debugfs run looks at
 * the guest, one writes the plan (report-job.c), one reads the job back:
 * debugfs does not fail on a command that fails, so the read-back is
 * the proof.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "report-job.h"

#define TOOL_TIMEOUT 60.0
#define EXPORT_TIMEOUT 15.0
/* Partition tables read: MBR primaries, or GPT entries up to this. */
#define GPT_MAX_ENTRIES 128

/* Paths looked at, with one "stat" each. */
static const char *const looked_at[] = {
  "/etc/fstab", "/sbin/init", "/etc/rc2.d", "/lib/systemd/systemd",
  "/usr/lib/systemd/systemd", "/etc/hvconvert-sample/rc.d", "/etc/local.d",
};

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

/* Is there anything on the disk FD that another way in (libguestfs)
 * could find a root in: a partition table, an LVM physical volume
 * ("LABELONE" in sector 1), or an XFS ("XFSB") or Btrfs ("_BHRfS_M" at
 * 64 KiB + 64) file system on the whole disk? */
static bool
anything_there (int fd)
{
  uint8_t s[1024], btrfs[8];
  bool table = false;

  if (full_pread (fd, s, sizeof s, 0) == -1)
    return false;
  if (s[510] == 0x55 && s[511] == 0xaa)
    for (int i = 0; i < 4; i++)
      table |= s[446 + 16 * i + 4] != 0;
  return table || memcmp (s + 512, "LABELONE", 8) == 0 ||
    memcmp (s, "XFSB", 4) == 0 ||
    (full_pread (fd, btrfs, sizeof btrfs, 65536 + 64) == 0 &&
     memcmp (btrfs, "_BHRfS_M", 8) == 0);
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

/* What one read-only debugfs run of "stat PATH" commands printed. */
struct stat_output {
  char *text;
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

static bool
exists (void *ctx, const char *path)
{
  return present (((struct stat_output *) ctx)->text, path);
}

/* /sbin/init a symbolic link to systemd ("Fast link dest:" in its
 * stat; a target longer than 59 bytes is not shown: then the plan
 * looks for systemd's binary). */
static bool
init_is_systemd (const char *out)
{
  const char *end, *p = stat_of (out, "/sbin/init", &end);
  const char *s = p ? strstr (p, "systemd") : NULL;

  return s && s < end;
}

/* Look at the file system at OFFSET: OUT gets debugfs's output. */
static int
inspect (const char *image, uint64_t offset, const char *dir,
         struct stat_output *out)
{
  CLEANUP_FREE char *cmds = NULL;
  FILE *f;

  if (asprintf (&cmds, "%s/inspect.cmds", dir) == -1 ||
      (f = fopen (cmds, "we")) == NULL) {
    hv_error (HV_E_IO, "%s: %m", dir);
    return -1;
  }
  for (size_t i = 0; i < ARRAY_SIZE (looked_at); i++)
    fprintf (f, "stat %s\n", looked_at[i]);
  fclose (f);
  return debugfs (image, offset, cmds, false, &out->text);
}

/* The debugfs commands of PLAN.  Files come from copies in DIR. */
static int
plan_commands (const struct job_plan *plan, const char *dir, FILE *f)
{
  char local[4096];

  for (size_t i = 0; i < plan->n; i++) {
    const struct job_step *s = &plan->steps[i];
    switch (s->kind) {
    case STEP_MKDIR:
      fprintf (f, "mkdir %s\n", s->path);
      break;
    case STEP_SYMLINK:
      fprintf (f, "symlink %s %s\n", s->path, s->target);
      break;
    case STEP_FILE:
      snprintf (local, sizeof local, "%s/file%zu", dir, i);
      if (write_file (local, s->content, s->mode) == -1)
        return -1;
      fprintf (f, "write %s %s\nsif %s mode 0%o\nsif %s uid 0\n"
               "sif %s gid 0\n", local, s->path, s->path,
               (unsigned) (S_IFREG | s->mode), s->path, s->path);
      break;
    }
  }
  return 0;
}

/* Write the plan, then read the job back.  0 done, 1 not there. */
static int
apply (const char *image, uint64_t offset, const char *dir,
       const struct job_plan *plan, const char *nonce)
{
  CLEANUP_FREE char *cmds = NULL, *check = NULL, *out = NULL;
  FILE *f;
  int r;

  if (asprintf (&cmds, "%s/write.cmds", dir) == -1 ||
      asprintf (&check, "%s/check.cmds", dir) == -1 ||
      (f = fopen (cmds, "we")) == NULL) {
    hv_error (HV_E_IO, "%s: %m", dir);
    return -1;
  }
  r = plan_commands (plan, dir, f);
  fclose (f);
  if (r == -1 || debugfs (image, offset, cmds, true, NULL) == -1 ||
      (f = fopen (check, "we")) == NULL)
    return -1;
  fprintf (f, "cat %s\n", plan->job);
  fclose (f);
  if (debugfs (image, offset, check, false, &out) == -1)
    return -1;
  return out && strstr (out, nonce) ? 0 : 1;
}

/* The file system at OFFSET: if it is a root (it has /etc/fstab), plan
 * and put the job there.  0 done, 1 not (J->how says why), -1 error. */
static int
try_filesystem (const char *image, uint64_t offset, const char *dir,
                struct hv_report_job *j)
{
  struct stat_output out = { NULL };
  struct job_guest g = { .exists = exists, .ctx = &out };
  struct job_plan *plan = NULL;
  int r = inspect (image, offset, dir, &out);

  if (r == 0 && !present (out.text, "/etc/fstab"))
    r = 1;
  else if (r == 0) {
    g.init_is_systemd = init_is_systemd (out.text);
    plan = malloc (sizeof *plan);
    r = plan ? job_plan (&g, j, plan) : -1;
    if (r == 0 && (r = apply (image, offset, dir, plan, j->nonce)) == 1)
      snprintf (j->how, sizeof j->how, "debugfs could not write the "
                "report job into the root file system");
  }
  free (plan);
  free (out.text);
  return r;
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
      hv_warning (HV_E_IO, "qemu-storage-daemon exited: cannot export the "
                "overlay through FUSE");
      return -1;
    }
  }
  hv_warning (HV_E_IO, "qemu-storage-daemon did not export the overlay in "
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

/* Find the root among the ext file systems of the export and put the
 * job there. */
static int
install (const char *image, const char *dir, struct hv_report_job *j)
{
  struct offset_vector fs = { 0 };
  CLEANUP_CLOSE int fd = open (image, O_RDONLY | O_CLOEXEC);
  int r = 1;

  snprintf (j->how, sizeof j->how, "no ext2/3/4 root file system on a "
            "partition of the boot disk");
  if (fd == -1) {
    hv_error (HV_E_IO, "%s: %m", image);
    return -1;
  }
  find_filesystems (fd, &fs);
  for (size_t i = 0; i < fs.len && r == 1; i++)
    r = try_filesystem (image, fs.ptr[i], dir, j);
  free (fs.ptr);
  if (r == 1 && !anything_there (fd)) {
    snprintf (j->how, sizeof j->how, "the boot disk has no partition "
              "table, volume or file system");
    r = 2;
  }
  return r;
}

int
job_install_debugfs (const char *overlay, const char *workdir,
                     struct hv_report_job *j)
{
  struct export e = { 0 };
  int r;

  if (export_start (overlay, workdir, &e) == -1) {
    export_stop (&e);
    snprintf (j->how, sizeof j->how, "qemu-storage-daemon could not "
              "export the overlay through FUSE (see the warning above)");
    return 1;
  }
  r = install (e.file, workdir, j);
  export_stop (&e);
  return r;
}
