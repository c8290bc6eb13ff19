/* hvconvert: injectors/, enlightening the guest before its first boot.
 *
 * The one header of injectors/.  `hvconvert inject` (and import
 * --inject) opens the disks in libguestfs, inspects them, and asks the
 * injector of the guest's OS for a plan: the list of changes it intends
 * (files written or replaced, links, removals), each with one line that
 * says why.  --dry-run prints the plan; apply performs exactly the plan.
 * An injector reads the guest only through `struct inj_fs`, so the
 * tests can run it on a directory tree as well as through libguestfs,
 * and it plans a change only where the guest differs from what it
 * wants: a second run plans nothing.
 *
 *   session.c      libguestfs: launch (force_tcg where KVM does not
 *                  run), inspection, mounts; the inj_fs over it
 *   fs-dir.c       the inj_fs over a host directory (tests)
 *   plan.c         the plan: steps and notes, text and JSON, apply
 *   linux.c        Linux: kernels, initramfs, config, device names,
 *                  foreign tools
 *   initramfs.c    initramfs images: list members, add modules
 *   linux-devices.c  device names in fstab, crypttab, bootloaders
 *   linux-tools.c  other hypervisors' guest tools
 *   windows*.c     Windows: SYSTEM/SOFTWARE hives through hivex
 *
 * Nothing here exits; functions return -1 or NULL after reporting once.
 */
#ifndef HV_INJECTORS_H
#define HV_INJECTORS_H

#include <stdio.h>
#include <sys/types.h>

#include "common.h"

/* ------------------------------------------------------------------ */
/* The options of inject. */

enum inj_profile { INJ_GEN1, INJ_GEN2 };

/* How the Linux initramfs gets its drivers. */
enum inj_initramfs_mode {
  INJ_INITRAMFS_APPEND,  /* hvconvert adds a cpio segment on the host */
  INJ_INITRAMFS_REBUILD, /* the guest's own tool runs in the appliance */
};

struct inj_opts {
  enum inj_profile profile;
  const char *root;          /* --root DEVICE, NULL: the only OS */
  const char *drivers_iso;   /* --drivers-iso PATH (Windows XP/2003) */
  enum inj_initramfs_mode initramfs;
  bool dry_run;
};

/* ------------------------------------------------------------------ */
/* The guest's files, wherever they are.  Paths are absolute guest
 * paths ("/etc/fstab").  Every function reports its own errors. */

struct inj_fs {
  void *ctx;
  /* 1 exists (any type; links not followed), 0 not, -1 error. */
  int (*exists) (void *ctx, const char *path);
  /* 1 a directory (links followed), 0 not, -1 error. */
  int (*is_dir) (void *ctx, const char *path);
  /* The whole file (a NUL is added after *LEN bytes); NULL on error.
   * Files above MAX bytes are refused as an error. */
  char *(*read) (void *ctx, const char *path, size_t max, size_t *len);
  /* At most COUNT bytes of PATH from OFFSET (fewer at its end; a NUL
   * is added after *LEN bytes); NULL on error. */
  char *(*pread) (void *ctx, const char *path, size_t count, off_t offset,
                  size_t *len);
  /* Copy the guest file PATH to the host file HOST_PATH. */
  int (*download) (void *ctx, const char *path, const char *host_path);
  /* The names in directory PATH (no "." or ".."), NULL-terminated,
   * sorted; caller frees with inj_strings_free.  NULL on error. */
  char **(*ls) (void *ctx, const char *path);
  /* The target of symbolic link PATH (caller frees); NULL on error. */
  char *(*readlink) (void *ctx, const char *path);
};

void inj_strings_free (char **v);

/* fs-dir.c: the guest is the host directory ROOT (for tests). */
int inj_fs_dir (const char *root, struct inj_fs *fs);
void inj_fs_dir_free (struct inj_fs *fs);

/* ------------------------------------------------------------------ */
/* What inspection found (session.c fills it from libguestfs; tests
 * fill it by hand). */

struct inj_guest {
  struct inj_fs fs;
  char *root;            /* the root device in the appliance */
  char *type;            /* "linux", "windows", ... */
  char *distro;          /* "debian", "rhel", "windows", "unknown" */
  char *product;         /* "Debian GNU/Linux 12 (bookworm)" */
  int major, minor;      /* OS version */
  char *arch;            /* "x86_64", "i386" */
  char *package_format;  /* "deb", "rpm", ... "unknown" */
  char *systemroot;      /* Windows: "/Windows" */
  char *hostname;
  char *workdir;         /* private host scratch directory */
  /* The appliance's stable name of a device the guest's configuration
   * names ("/dev/hda2" -> "UUID=..."); NULL if unknown.  Set by
   * session.c; NULL in tests that do not need it. */
  char *(*stable_name) (void *ctx, const char *guest_device);
  void *stable_ctx;
};

/* ------------------------------------------------------------------ */
/* plan.c: the plan. */

enum inj_step_kind {
  INJ_STEP_WRITE,      /* PATH gets CONTENT (LEN bytes), mode MODE */
  INJ_STEP_UPLOAD,     /* PATH gets the host file HOST_FILE, mode MODE */
  INJ_STEP_MKDIR,      /* mkdir -p PATH */
  INJ_STEP_SYMLINK,    /* PATH becomes a link to TARGET */
  INJ_STEP_REMOVE,     /* PATH is removed */
  INJ_STEP_COMMAND,    /* ARGV runs in the guest (slow; the plan's end) */
};

struct inj_step {
  enum inj_step_kind kind;
  char *path;
  char *target;          /* SYMLINK */
  char *content;         /* WRITE */
  size_t len;
  char *host_file;       /* UPLOAD */
  char **argv;           /* COMMAND */
  mode_t mode;           /* WRITE, UPLOAD */
  /* WRITE, UPLOAD, REMOVE: first keep the old PATH as BACKUP, unless
   * BACKUP already exists (the first run's backup is the original). */
  char *backup;
  char *why;             /* one line for a person */
};

enum inj_note_level {
  INJ_NOTE_INFO,         /* what was found, what is already right */
  INJ_NOTE_WARN,         /* something hvconvert cannot fix */
  INJ_NOTE_RECOMMEND,    /* something the user should do */
};

struct inj_note {
  enum inj_note_level level;
  char *text;
};

DEFINE_VECTOR (inj_step_vector, struct inj_step)
DEFINE_VECTOR (inj_note_vector, struct inj_note)

struct inj_plan {
  struct inj_step_vector steps;
  struct inj_note_vector notes;
  bool nomem;            /* an append failed: the plan is incomplete */
};

/* Add a step.  WHY is a printf format.  CONTENT and HOST_FILE are
 * copied (the host file by name: it must live until apply).  Returns 0,
 * or -1 after reporting out of memory. */
int plan_write (struct inj_plan *p, const char *path, const void *content,
                size_t len, mode_t mode, const char *backup,
                const char *why, ...)
  __attribute__ ((format (printf, 7, 8)));
int plan_upload (struct inj_plan *p, const char *path, const char *host_file,
                 mode_t mode, const char *backup, const char *why, ...)
  __attribute__ ((format (printf, 6, 7)));
int plan_mkdir (struct inj_plan *p, const char *path, const char *why, ...)
  __attribute__ ((format (printf, 3, 4)));
int plan_symlink (struct inj_plan *p, const char *target, const char *path,
                  const char *why, ...)
  __attribute__ ((format (printf, 4, 5)));
int plan_remove (struct inj_plan *p, const char *path, const char *backup,
                 const char *why, ...)
  __attribute__ ((format (printf, 4, 5)));
int plan_command (struct inj_plan *p, char *const *argv, const char *why, ...)
  __attribute__ ((format (printf, 3, 4)));
int plan_note (struct inj_plan *p, enum inj_note_level level,
               const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
void plan_free (struct inj_plan *p);

/* The plan for a person: one line per step and note. */
void plan_print (const struct inj_plan *p, FILE *out);
/* The plan as one JSON object {"steps": [...], "notes": [...]} (caller
 * frees); NULL on out of memory. */
char *plan_json (const struct inj_plan *p);

/* ------------------------------------------------------------------ */
/* The injectors.  Each fills PLAN for the inspected guest G and returns
 * 0 (the plan may be empty: nothing to do), or -1 after reporting when
 * the guest must not or cannot be changed (a hibernated Windows, an
 * unreadable configuration). */

int inject_linux (struct inj_guest *g, const struct inj_opts *o,
                  struct inj_plan *plan);

/* ------------------------------------------------------------------ */
/* windows*.c: Windows.  inject_windows reads the guest through g->fs
 * only (g->systemroot, g->major/minor and g->arch from inspection),
 * edits copies of the SYSTEM and SOFTWARE hives in g->workdir with
 * hivex and plans their upload (the old hive kept as
 * <hive>.pre-hvconvert); every value it changes is an INJ_NOTE_INFO
 * note.  It refuses a hibernated Windows (hiberfil.sys) and needs
 * g->fs.pread for that.  XP/2003 with o->drivers_iso: the ISO's
 * support/<arch> payload is planned into the guest and its setup run at
 * first logon.  The parts share windows-internal.h. */
int inject_windows (struct inj_guest *g, const struct inj_opts *o,
                    struct inj_plan *plan);

/* linux.c: the drivers inject wants (NULL-terminated, kernel names). */
extern const char *const linux_hv_modules[];
extern const char *const linux_gen1_modules[];

/* linux-initramfs.c: plan the initramfs of every installed kernel to
 * hold MODS (NULL-terminated); TOOL is the guest's initramfs tool
 * ("initramfs-tools", "dracut", ...) or NULL. */
int linux_plan_initramfs (struct inj_guest *g, const struct inj_opts *o,
                          const char *const *mods, const char *tool,
                          struct inj_plan *plan);

/* ------------------------------------------------------------------ */
/* session.c: one inject run in libguestfs.  The disks are behind qcow2
 * overlays beside them; the chosen root is inspected and mounted
 * read-only.  Apply remounts read-write, performs the plan and commits
 * the overlays into the disks.  NULL / -1 after reporting. */

struct inj_session;
struct inj_session *inj_session_open (char *const *disks, size_t n,
                                      const struct inj_opts *o);
struct inj_guest *inj_session_guest (struct inj_session *s);
int inj_session_apply (struct inj_session *s, const struct inj_plan *p);
void inj_session_close (struct inj_session *s);
/* For stable-name.c: the guestfs handle and the appliance's disks. */
void *inj_session_handle (struct inj_session *s);
char *const *inj_session_devices (struct inj_session *s);

/* fs-guestfs.c: the inj_fs over the guestfs handle G. */
void inj_fs_guestfs (void *g, struct inj_fs *fs);

/* plan-apply.c: perform P in the appliance (handle G). */
int plan_apply (void *g, const struct inj_plan *p);

/* commit.c: copy what OVERLAY holds into DISK (VHD or raw) and remove
 * the overlay; an interrupted commit is completed by
 * inj_finish_pending(DISK) on the next run (refused in a dry run). */
int inj_commit_overlay (const char *overlay, const char *disk);
int inj_finish_pending (const char *disk, bool dry_run);

/* stable-name.c: a guest device name ("/dev/hda2", "/dev/vdb",
 * "/dev/cciss/c0d0p1", "/dev/nvme0n1p2") as disk index and partition
 * number (0: the whole disk); -1 if it is not such a name. */
int inj_parse_device (const char *name, unsigned *disk, unsigned *part);
/* The inj_guest.stable_name of a session (CTX is the session). */
char *inj_stable_name (void *ctx, const char *guest_device);

#endif /* HV_INJECTORS_H */
