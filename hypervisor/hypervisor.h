/* hvconvert: hypervisor/, the bundled hypervisor (QEMU).
 *
 * The one header of hypervisor/: what the host can do (host.c, and the
 * KVM probe with its cache in kvm-probe.c), subprocesses started from an
 * argv array (process.c), the machine profiles that turn a `struct vm`
 * into a QEMU command line (profile.c), the QMP client (qmp.c), the
 * throw-away overlays (overlay.c), the report job put into a guest
 * (report-job.c), the console verdict (verdict.c) and the boot
 * verification that ties them together (verify.c).
 *
 * Every part of hvconvert that starts QEMU or libguestfs asks
 * hv_accelerator() which accelerator to use: a KVM that really runs a
 * guest, else TCG.  Nothing here exits; functions return -1 or NULL
 * after reporting.
 */
#ifndef HV_HYPERVISOR_H
#define HV_HYPERVISOR_H

#include <sys/types.h>

#include "common.h"

/* ------------------------------------------------------------------ */
/* process.c: subprocesses from an argv array, never a shell string. */

/* Where a child's standard output and error go. */
struct hv_spawn_io {
  int stdin_fd;          /* -1: /dev/null */
  int stdout_fd;         /* -1: /dev/null */
  int stderr_fd;         /* -1: /dev/null */
};

/* Start ARGV[0] (looked up in PATH) with ARGV; *PID gets the child.
 * IO NULL: all three on /dev/null.  -1 after reporting. */
int hv_spawn (char *const *argv, const struct hv_spawn_io *io, pid_t *pid);

/* Wait until PID exits or DEADLINE (now_seconds() clock) passes.
 * Returns 1 with *STATUS (waitpid status) when it exited, 0 at the
 * deadline, -1 after reporting.  A signal that sets hv_interrupted
 * returns 0 at once. */
int hv_wait_until (pid_t pid, double deadline, int *status);

/* Stop PID: SIGTERM, then SIGKILL after GRACE seconds; reaps it. */
void hv_stop (pid_t pid, double grace);

/* Run ARGV to completion within TIMEOUT seconds with its standard
 * output and error captured (at most 64 KiB kept) into *OUTPUT (caller
 * frees; may be NULL).  Returns the exit status (0-255), or -1 after
 * reporting when it could not start, was killed, or timed out. */
int hv_run (char *const *argv, double timeout, char **output);

/* A command line being built: hv_argv_add copies, hv_argv_addf
 * formats.  The vector ends with a NULL after hv_argv_end().  Errors
 * (out of memory) are remembered and reported by hv_argv_end(). */
struct hv_argv {
  struct string_vector v;
  bool failed;
};
void hv_argv_add (struct hv_argv *a, const char *arg);
void hv_argv_addf (struct hv_argv *a, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* Append the NULL terminator; -1 after reporting if anything failed. */
int hv_argv_end (struct hv_argv *a);
/* Append PREFIX, VALUE with each ',' doubled (QEMU's option syntax:
 * a path with a comma cannot end the option early), and SUFFIX. */
void hv_argv_add_opt (struct hv_argv *a, const char *prefix,
                      const char *value, const char *suffix);
void hv_argv_free (struct hv_argv *a);
/* The command line as one string for debug messages (caller frees). */
char *hv_argv_string (char *const *argv);

/* A private directory (mode 0700) "$TMPDIR/PREFIX.XXXXXX"; NULL after
 * reporting.  hv_remove_tree removes a directory this program made,
 * without following symbolic links. */
char *hv_private_dir (const char *prefix);
void hv_remove_tree (const char *dir);

/* ------------------------------------------------------------------ */
/* host.c: what the host offers. */

/* The QEMU system emulator: $HVCONVERT_QEMU, else qemu-system-x86_64
 * in PATH.  Never NULL. */
const char *hv_qemu_binary (void);

/* Its version ("7.2.22"), asked once per process; NULL after
 * reporting if QEMU cannot be run. */
const char *hv_qemu_version (void);

/* OVMF firmware: the code and variable-store templates of one size
 * (4 MiB preferred).  Returns 0, or -1 (not reported) if not found. */
int hv_ovmf_paths (const char **code, const char **vars);

/* One answer of `hvconvert doctor`: a check, its answer and why. */
enum hv_check_status {
  HV_CHECK_OK,           /* works */
  HV_CHECK_WARN,         /* missing, but hvconvert works without it */
  HV_CHECK_FAIL,         /* hvconvert cannot work here */
};
struct hv_check {
  char *name;            /* "kvm", "qemu": stable, for --json */
  enum hv_check_status status;
  char *answer;          /* "yes", "no", "7.2.22" */
  char *why;             /* one sentence for a person */
};
DEFINE_VECTOR (hv_check_vector, struct hv_check)

/* Options of the checks. */
struct hv_doctor_opts {
  bool full;             /* also launch the libguestfs appliance */
};

/* Run every check into OUT.  -1 only on out of memory (reported). */
int hv_doctor (const struct hv_doctor_opts *o, struct hv_check_vector *out);
void hv_checks_free (struct hv_check_vector *v);
const char *hv_check_status_name (enum hv_check_status s);

/* ------------------------------------------------------------------ */
/* kvm-probe.c: does KVM really run a guest?  A tiny guest (the
 * probe-guest.S boot sector) that must reach long mode, run a loop,
 * take timer interrupts and print a marker; first under TCG (which
 * proves the guest and QEMU sound), then under KVM with a deadline.
 * The answer is cached in a file keyed by the host's kernel release and
 * QEMU's version. */

enum hv_accel { HV_ACCEL_TCG, HV_ACCEL_KVM };
const char *hv_accel_name (enum hv_accel a);   /* "tcg", "kvm" */

struct hv_kvm_answer {
  bool usable;
  char why[512];           /* one sentence: how it was decided */
  double kvm_seconds;      /* the KVM run, -1 if not run */
  double tcg_seconds;      /* the TCG run, -1 if not run */
  bool from_cache;
  char cache_file[4096];   /* where the answer is (or would be) kept */
};

/* How the cache is used. */
enum hv_cache_mode {
  HV_CACHE_USE,          /* read it; probe and write it if missing/stale */
  HV_CACHE_REPROBE,      /* probe again and write the new answer */
  HV_CACHE_OFF,          /* probe, and neither read nor write the cache */
};
void hv_set_cache_mode (enum hv_cache_mode m);

/* The cache directory: $HVCONVERT_CACHE_DIR, else /var/cache/hvconvert
 * for root, else $XDG_CACHE_HOME/hvconvert or ~/.cache/hvconvert. */
char *hv_cache_dir (void);

/* The answer, probing if needed (once per process).  A missing
 * /dev/kvm or QEMU answers "not usable" without a probe.  -1 after
 * reporting only when not even TCG works (QEMU missing or broken). */
int hv_kvm_answer (struct hv_kvm_answer *a);

/* The accelerator every QEMU or libguestfs start must use: KVM if it
 * really runs a guest, else TCG.  Probes on first use; TCG if the probe
 * itself fails. */
enum hv_accel hv_accelerator (void);

/* The libguestfs backend settings string for guestfs_set_backend_
 * settings(): "force_tcg" unless KVM works, then "". */
const char *hv_guestfs_backend_settings (void);

/* host.c: a libguestfs handle set up as every appliance hvconvert
 * starts must be: backend "direct", with hv_guestfs_backend_settings().
 * Not launched.  NULL after reporting. */
struct guestfs_h;
struct guestfs_h *hv_guestfs_new (void);

/* guestfs-mounts.c: guestfs_inspect_get_mountpoints of ROOT (pairs
 * "mountpoint", "device"; the caller frees each string and the list),
 * with "/" as ROOT itself whatever the guest's fstab calls it, and a
 * /dev/disk/by-id or by-path "-partN" name as partition N of the
 * appliance's disk when it has one.  NULL on a libguestfs error (its
 * message is guestfs_last_error). */
char **hv_guestfs_mountpoints (struct guestfs_h *g, const char *root);
/* A /dev/disk/by-id or by-path name of a partition ("...-part2") as its
 * partition number; -1 for any other name.  Which disk it was is known
 * only when the guest has one. */
int hv_udev_partition (const char *name, unsigned *part);

/* ------------------------------------------------------------------ */
/* profile.c: machine profiles.  One QEMU process per VM; argv built
 * as an array. */

enum hv_profile {
  HV_PROFILE_GEN1,             /* i440fx, IDE, tulip, PS/2, std VGA */
  HV_PROFILE_GEN1_ENLIGHTENED, /* gen1 + Hyper-V enlightenments, VMBus */
  HV_PROFILE_GEN2,             /* q35 + OVMF (UEFI) */
};
const char *hv_profile_name (enum hv_profile p);
/* The keywords for --profile, NULL-terminated, index = enum value. */
extern const char *const hv_profile_names[];

/* Where a VM's files are and how it is started. */
struct hv_machine {
  enum hv_profile profile;
  enum hv_accel accel;
  const struct vm *vm;
  char *const *drives;         /* per vm->disks entry: the file QEMU opens */
  char *const *drive_formats;  /* QEMU format names ("qcow2", "vpc") */
  const char *console;         /* COM1 file, or NULL: on stdio (run) */
  const char *report;          /* COM2 file, or NULL: not connected */
  const char *firmware_log;    /* SeaBIOS/OVMF debug console file or NULL */
  const char *qmp_socket;      /* QMP unix socket path, or NULL */
  const char *ovmf_vars;       /* gen2: a writable copy of OVMF_VARS */
  const char *vnc;             /* "127.0.0.1:0,to=99" or NULL: no display */
  bool readonly_drives;        /* open the drives read-only */
  /* A reset or power-off stops the VM (-no-reboot -no-shutdown) instead
   * of rebooting or exiting, so its screen can still be captured. */
  bool stop_on_reset;
};

/* Can this host run PROFILE with ACCEL?  gen1-enlightened needs KVM,
 * gen2 needs OVMF.  0, or -1 after saying why not. */
int hv_profile_check (enum hv_profile profile, enum hv_accel accel);

/* Build the QEMU command line for M into ARGV.  A profile the host
 * cannot run (gen1-enlightened under TCG, gen2 without OVMF) is refused
 * with a message saying why.  -1 after reporting. */
int hv_machine_argv (const struct hv_machine *m, struct hv_argv *argv);

/* The QEMU format name for an importer format name ("vhd" -> "vpc"). */
const char *hv_qemu_format (const char *importer_format);

/* ------------------------------------------------------------------ */
/* qmp.c: a QMP client over a unix socket. */

struct hv_qmp;

/* Connect to PATH of QEMU process PID, retrying until DEADLINE or
 * until PID exits, and negotiate (qmp_capabilities).  NULL after
 * reporting. */
struct hv_qmp *hv_qmp_connect (const char *path, pid_t pid,
                               double deadline);
/* Send one command (a JSON object's text) and wait up to TIMEOUT
 * seconds for its "return" or "error" (events on the way are
 * remembered).  Returns 0, or -1 after reporting. */
int hv_qmp_command (struct hv_qmp *q, const char *json, double timeout);
/* True once an event named NAME ("SHUTDOWN") was seen. */
bool hv_qmp_saw_event (struct hv_qmp *q, const char *name);
/* Read whatever arrived, without waiting (events). */
void hv_qmp_poll (struct hv_qmp *q);
void hv_qmp_close (struct hv_qmp *q);

/* ------------------------------------------------------------------ */
/* overlay.c: a throw-away qcow2 overlay OVERLAY whose backing file is
 * BACKING (format BACKING_FORMAT, a QEMU name), made by qemu-img. */

int hv_overlay_create (const char *backing, const char *backing_format,
                       const char *overlay);

/* ------------------------------------------------------------------ */
/* report-job.c: the one-shot report job put into a Linux guest (on its
 * overlay only).  The job prints, on the second serial port, lines
 * "HVCONVERT-REPORT NONCE KEY VALUE" between "... NONCE begin" and
 * "... NONCE end", then powers the guest off. */

#define HV_NONCE_LEN 32          /* hex digits */

struct hv_report_job {
  char nonce[HV_NONCE_LEN + 1];
  char how[256];               /* where it was put, or why it was not */
  bool installed;
};

/* Generate a nonce (OpenSSL RAND_bytes) and put the job into the Linux
 * root file system found on the disk whose original is ORIGINAL (read to
 * find the partitions) and whose overlay is OVERLAY (written).  WORKDIR
 * is a private directory for temporary files.  Returns 0 when installed,
 * 1 when this guest cannot take it (J->how says why), -1 after
 * reporting. */
int hv_report_job_install (const char *original, const char *overlay,
                           const char *workdir, struct hv_report_job *j);

/* ------------------------------------------------------------------ */
/* verdict.c: what the consoles say. */

enum hv_verdict {
  HV_VERDICT_BOOTED,
  HV_VERDICT_NO_BOOTABLE_DEVICE,
  HV_VERDICT_BOOTLOADER_FAILED,
  HV_VERDICT_KERNEL_PANIC,
  HV_VERDICT_ROOT_NOT_FOUND,
  HV_VERDICT_STOPPED,          /* powered off or reset without a report */
  HV_VERDICT_TIMEOUT,
  HV_VERDICT_NONE,             /* nothing decided yet */
};
const char *hv_verdict_name (enum hv_verdict v);   /* "booted", ... */

/* What the text TEXT (a console, the firmware log or the screen) shows:
 * a failure verdict with *WHY pointing to a static reason, or
 * HV_VERDICT_NONE. */
enum hv_verdict hv_console_verdict (const char *text, const char **why);

/* What the first sector of a BIOS machine's boot disk says before it
 * boots: HV_VERDICT_NO_BOOTABLE_DEVICE with *WHY when it has a boot
 * signature but no boot code (the firmware would run zeros and hang
 * silently), else HV_VERDICT_NONE. */
enum hv_verdict hv_boot_sector_verdict (const uint8_t sector[512],
                                        const char **why);

/* The report of nonce NONCE in TEXT (the second serial port): a JSON
 * object of its KEY VALUE lines (caller frees), or NULL if the report
 * is absent or incomplete (no "end" line). */
char *hv_report_parse (const char *text, const char *nonce);

/* ------------------------------------------------------------------ */
/* verify.c: boot a machine on throw-away overlays and say what
 * happened. */

struct hv_verify_opts {
  enum hv_profile profile;
  double timeout;              /* seconds from QEMU's start */
  const char *log_dir;         /* NULL: a new $TMPDIR/hvconvert-verify.* */
};

struct hv_verify_result {
  enum hv_verdict verdict;
  char *why;                   /* for a person */
  enum hv_accel accel;
  double seconds;              /* QEMU start to the verdict */
  char *report_json;           /* the guest's report, or NULL */
  char *log_dir;
  char *console_log, *report_log, *firmware_log, *screenshot;
  char *last_lines;            /* the console's last lines */
  char *report_job;            /* where the report job went, or why not */
};

/* Verify VM.  Returns 0 with *R filled (whatever the verdict), or -1
 * after reporting when the verification itself could not run. */
int hv_verify (const struct vm *vm, const struct hv_verify_opts *o,
               struct hv_verify_result *r);
void hv_verify_result_free (struct hv_verify_result *r);
/* The result as a JSON object (caller frees), NULL on out of memory. */
char *hv_verify_json (const struct vm *vm, const struct hv_verify_opts *o,
                      const struct hv_verify_result *r);

/* ------------------------------------------------------------------ */
/* run.c: boot VM for a person, its first serial port on the terminal. */

struct hv_run_opts {
  enum hv_profile profile;
  bool vnc;                    /* a VNC display on localhost */
  bool writable;               /* write to the disks themselves */
};

/* Returns QEMU's exit status, or -1 after reporting. */
int hv_run_vm (const struct vm *vm, const struct hv_run_opts *o);

#endif /* HV_HYPERVISOR_H */
