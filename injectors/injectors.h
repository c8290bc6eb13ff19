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
   * sorted; caller frees with strings_free.  NULL on error. */
  char **(*ls) (void *ctx, const char *path);
  /* The target of symbolic link PATH (caller frees); NULL with errno
   * EINVAL, not reported, if PATH is not a link (or does not exist),
   * NULL after reporting on another error. */
  char *(*readlink) (void *ctx, const char *path);
};


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
/* initramfs*.c: a Linux initramfs image as a host file.  The kernel
 * unpacks its segments in order: uncompressed newc cpio archives at
 * 4-byte aligned offsets (the early microcode archive) and compressed
 * ones (gzip, bzip2, lzma, xz, lzo, lz4, zstd), NUL bytes between
 * them; a later member replaces an earlier one of the same name.
 * These functions read images the same way, with bounded sizes: the
 * image comes from the guest. */

struct initramfs_segment {
  uint64_t offset;        /* in the image file */
  uint64_t length;        /* bytes of the file it takes */
  const char *method;     /* "cpio" (uncompressed), "gzip", "zstd", ... */
  size_t members;         /* trailers not counted */
};
DEFINE_VECTOR (initramfs_segment_vector, struct initramfs_segment)

struct initramfs_layout {
  struct initramfs_segment_vector segments;
  /* Does the kernel unpack a segment appended to the image?  Not after
   * LZ4 (the kernel reads it to the end), nor after bzip2 or lzo, whose
   * end hvconvert cannot find to check the result. */
  bool appendable;
};

/* Every member's path in every segment, in order ("./" and "/" removed
 * in front; the root is "."; a path replaced later appears twice;
 * trailers left out), appended to MEMBERS (strings owned by the
 * vector).  Returns 0, or -1 after reporting a corrupt, truncated or
 * oversized image, naming the file and the segment. */
int initramfs_list (const char *image, struct string_vector *members);
/* The same, and the segments into LAYOUT (MEMBERS may be NULL). */
int initramfs_scan (const char *image, struct string_vector *members,
                    struct initramfs_layout *layout);
void initramfs_layout_free (struct initramfs_layout *layout);
/* Can hvconvert write a segment of METHOD ("zstd", ...) back, as the
 * default repack does?  (It reads more than it writes: lz4, bzip2, lzo
 * only the guest's own tool can produce.) */
bool initramfs_method_writable (const char *method);

enum initramfs_output {
  INITRAMFS_REPACK,       /* the last segment re-encoded with the new
                             members, in its own compression; what the
                             guest's lsinitramfs still reads (default) */
  INITRAMFS_APPEND,       /* the image unchanged + one more segment */
};

/* Make the image at IMAGE hold MODULES (and what they depend on), for
 * kernel KVER, as a new image at OUTPUT.  The modules come from the
 * guest through FETCH, which copies RELPATH (as modules.dep names it,
 * "kernel/drivers/hv/hv_vmbus.ko") to the host file HOST_DEST and
 * returns 0 or -1 after reporting.  The module indexes of the new
 * image (modules.dep, .alias, their .bin forms ...) are made by the
 * host's depmod over the image's modules and the new ones. */
struct initramfs_request {
  const char *image;
  const char *output;     /* written only when something is added */
  const char *kver;
  char *const *modules;   /* names, NULL-terminated; '-' same as '_' */
  /* Host copies of the guest's /lib/modules/KVER/modules.dep (needed)
   * and modules.order, modules.builtin, modules.builtin.modinfo (each
   * may be NULL). */
  const char *modules_dep;
  const char *modules_order;
  const char *modules_builtin;
  const char *modules_builtin_modinfo;
  int (*fetch) (void *ctx, const char *relpath, const char *host_dest);
  void *fetch_ctx;
  enum initramfs_output how;
  bool gzip;              /* APPEND: gzip the new segment (else none) */
  const char *workdir;    /* for scratch files; NULL: a private dir
                             under $TMPDIR, removed at the end */
};

/* What was done; strings owned by the result.  MISSING is not an error:
 * a module this kernel does not have (hyperv_drm on an old kernel) is
 * listed for the caller to report. */
struct initramfs_result {
  bool changed;                  /* OUTPUT was written */
  char *modules_dir;             /* "usr/lib/modules/KVER" in the image */
  struct string_vector added;    /* module paths (as in modules.dep) */
  struct string_vector present;  /* names already in the image */
  struct string_vector builtin;  /* wanted names built into the kernel */
  struct string_vector missing;  /* wanted names the kernel lacks */
};

/* Returns 0 (RES filled; OUTPUT written iff RES->changed), or -1 after
 * reporting (OUTPUT not left behind).  Refused with "unsupported" when
 * the image's last segment cannot be re-encoded (REPACK: bzip2, lzo,
 * lz4) or followed (APPEND: see appendable): use the guest's own tool. */
int initramfs_add_modules (const struct initramfs_request *r,
                           struct initramfs_result *res);
void initramfs_result_free (struct initramfs_result *res);

/* ------------------------------------------------------------------ */
/* Linux configuration: the parts of inject_linux (linux.c) that edit
 * configuration files and services.  Both plan only where the guest
 * differs, so a second run plans nothing. */

/* linux.c: 1 if guest file PATH holds exactly TEXT, 0 if it does not
 * exist or differs (or cannot be read: it is then rewritten), -1 on an
 * error looking for it. */
int linux_file_holds (struct inj_guest *g, const char *path,
                      const char *text);

/* linux-devices.c: device names that will not exist on Hyper-V
 * (/dev/sdX, hdX, vdX, xvdX, cciss, nvme, by-id, by-path) become the
 * stable names g->stable_name gives (UUID= or LABEL=) in fstab,
 * crypttab, GRUB 2, GRUB legacy, extlinux/syslinux, BLS entries and
 * initramfs-tools' RESUME.  A name without a known stable name is a
 * warning note. */
int linux_plan_devices (struct inj_guest *g, const struct inj_opts *o,
                        struct inj_plan *plan);
/* linux-tools.c: other hypervisors' guest tools (VMware, VirtualBox,
 * Xen) are masked (systemd) or lose their start links (SysV); a
 * recommendation names the distribution's Hyper-V daemons package
 * when the guest has none. */
int linux_plan_tools (struct inj_guest *g, const struct inj_opts *o,
                      struct inj_plan *plan);
/* linux-net.c: when the guest's network configuration names one
 * adapter by its old slot (ens192, enp0s3, eno1, em1, p2p1), a systemd
 * .link file gives Hyper-V's adapter (hv_netvsc, otherwise eth0) that
 * name; several such names, or no systemd udev, are a warning note. */
int linux_plan_network (struct inj_guest *g, const struct inj_opts *o,
                        struct inj_plan *plan);

/* devnames.c: the text rewriting behind linux_plan_devices, pure (no
 * guest, no libguestfs), one line syntax per configuration file. */
enum devname_syntax {
  DEVNAME_FSTAB,        /* /etc/fstab: the first field */
  DEVNAME_CRYPTTAB,     /* /etc/crypttab: the second field */
  DEVNAME_DEFAULT_GRUB, /* /etc/default/grub: root=, resume= in
                           GRUB_CMDLINE_LINUX[_DEFAULT] */
  DEVNAME_GRUB_CFG,     /* grub.cfg: linux, linux16, linuxefi lines */
  DEVNAME_MENU_LST,     /* GRUB legacy menu.lst, grub.conf: kernel lines */
  DEVNAME_EXTLINUX,     /* extlinux.conf, syslinux.cfg: APPEND lines */
  DEVNAME_BLS,          /* /boot/loader/entries/NAME.conf: options */
  DEVNAME_RESUME,       /* initramfs-tools conf.d/resume: RESUME= */
};

/* Longest device name considered (longer tokens are not device names). */
#define DEVNAME_MAX 255

/* The stable name ("UUID=...", "LABEL=...") of DEVICE, or NULL if
 * unknown.  The string belongs to CTX and lives as long as it. */
typedef const char *(*devname_lookup_fn) (void *ctx, const char *device);

/* One device name found that will not exist after conversion. */
struct devname_change {
  char *old;            /* as the file names it: "/dev/sda1" */
  char *new;            /* what replaced it; NULL: no usable stable name
                           is known, the name was left as it is */
  char *role;           /* "/", "swap", "root", "resume", a crypttab
                           name: what the name is used for */
};
DEFINE_VECTOR (devname_change_vector, struct devname_change)

/* The rewritten text and the names found, each once, in file order.
 * The result owns everything; devname_result_free frees it. */
struct devname_result {
  char *text;           /* LEN bytes plus a NUL; NULL: unchanged */
  size_t len;
  struct devname_change_vector changes;
};

/* Rewrite TEXT (LEN bytes, any bytes, need not end in a newline) of
 * syntax SYNTAX: every unstable device name in the fields the syntax
 * names is replaced by its stable name from LOOKUP (NULL: none known).
 * Everything else is kept byte for byte.  FILE names the file in
 * messages.  Returns 0, or -1 after reporting (out of memory, more
 * than DEVNAME_MAX_NAMES different names). */
#define DEVNAME_MAX_NAMES 256
int devnames_rewrite (enum devname_syntax syntax, const char *file,
                      const char *text, size_t len,
                      devname_lookup_fn lookup, void *ctx,
                      struct devname_result *res);
void devname_result_free (struct devname_result *res);

/* True if NAME (LEN bytes) is a device name that will not exist, or
 * not mean the same disk, on Hyper-V. */
bool devname_unstable (const char *name, size_t len);
/* True if STABLE is a stable name that every syntax above can carry
 * unquoted: UUID=hex-and-dashes, or LABEL=/PARTUUID= of safe bytes. */
bool devname_stable_ok (const char *stable);

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

/* linux.c: TEXT of /etc/sysconfig/kernel with MODS added to
 * INITRD_MODULES (SUSE mkinitrd); NULL when nothing is missing, the
 * line cannot be edited safely, or out of memory (*NOMEM). */
char *sysconfig_add_modules (const char *text, const char *const *mods,
                             bool *nomem);

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
/* "Windows 7 Professional", "debian 12.15": the guest for messages. */
void inj_guest_label (const struct inj_guest *g, char *buf, size_t n);
int inj_session_apply (struct inj_session *s, const struct inj_plan *p);
void inj_session_close (struct inj_session *s);
/* For stable-name.c: the guestfs handle and the appliance's disks. */
void *inj_session_handle (struct inj_session *s);
char *const *inj_session_devices (struct inj_session *s);

/* fs-guestfs.c: the inj_fs over the guestfs handle G; the handle's
 * last error for messages (never NULL). */
void inj_fs_guestfs (void *g, struct inj_fs *fs);
const char *inj_guestfs_error (void *g);

/* plan-apply.c: perform P in the appliance (handle G). */
int plan_apply (void *g, const struct inj_plan *p);

/* commit.c: copy what OVERLAY holds into DISK (VHD or raw) and remove
 * the overlay; an interrupted commit is completed by
 * inj_finish_pending(DISK) on the next run (refused in a dry run). */
int inj_commit_overlay (const char *overlay, const char *disk);
/* The QEMU format name of DISK ("vpc" or "raw"): inject changes only
 * the formats our own writers handle; -1 after reporting another. */
int inj_disk_format (const char *disk, const char **qemu_format);
int inj_finish_pending (const char *disk, bool dry_run);

/* stable-name.c: a guest device name ("/dev/hda2", "/dev/vdb",
 * "/dev/cciss/c0d0p1", "/dev/nvme0n1p2") as disk index and partition
 * number (0: the whole disk); -1 if it is not such a name. */
int inj_parse_device (const char *name, unsigned *disk, unsigned *part);
/* The inj_guest.stable_name of a session (CTX is the session). */
char *inj_stable_name (void *ctx, const char *guest_device);

#endif /* HV_INJECTORS_H */
