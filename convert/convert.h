/* hvconvert: convert/, the command line, the atomic output files and the
 * copy engine.
 *
 * The one header of convert/.  main.c dispatches to one cmd_*() per
 * subcommand; each returns an exit status (below) and never exits.
 */
#ifndef HV_CONVERT_H
#define HV_CONVERT_H

#include <getopt.h>

#include "common.h"

/* Exit statuses (documented in hvconvert(1)).  An interrupted run exits
 * with 128 + the signal number instead. */
enum {
  HV_EXIT_OK = 0,
  HV_EXIT_FAILED = 1,
  HV_EXIT_USAGE = 2,
  HV_EXIT_CHECK = 3,        /* vhd check found problems */
  HV_EXIT_DIFFERENT = 4,    /* vhd diff: the disks differ */
};

/* ------------------------------------------------------------------ */
/* Subcommands: the table in main.c lists them.  ARGV[0] is the
 * subcommand's name. */

int cmd_disk (int argc, char **argv);
int cmd_import (int argc, char **argv);
/* cmd-verify.c: the exit status of a verdict (enum hv_verdict): 0 for
 * booted, 10 to 15 otherwise (see hvconvert-verify(1)). */
int verify_exit_status (int verdict);
int cmd_vhd (int argc, char **argv);
int cmd_doctor (int argc, char **argv);
int cmd_verify (int argc, char **argv);
int cmd_run (int argc, char **argv);
int cmd_inject (int argc, char **argv);
/* cmd-inject.c, shared with import --inject: inspect, plan and (unless
 * O->dry_run) apply on DISKS; prints the plan unless QUIET; *JSON_OUT
 * (if not NULL) gets the result for the conversion report.  -1 after
 * reporting. */
struct inj_opts;
int inject_disks (char *const *disks, size_t n, const struct inj_opts *o,
                  bool quiet, char **json_out);

/* cmd-verify.c, shared with cmd-run.c: --profile, and the machine made
 * of bare disks (common's vm_from_disks plus one legacy NIC). */
enum hv_profile;
int option_profile (const char *arg, enum hv_profile *out);
struct vm *machine_from_disks (char *const *paths, size_t n);

/* ------------------------------------------------------------------ */
/* options.c: what every subcommand shares.
 *
 * The global options (-v, --machine-readable[=FD]) are also accepted
 * after the subcommand: start a subcommand's short options with
 * COMMON_SHORT_OPTIONS, append COMMON_LONG_OPTIONS to its getopt table,
 * and pass every option to common_option() first.  -h/--help is in the
 * lists but left to the subcommand, which prints its own usage. */

enum {
  OPT_MACHINE_READABLE = 0x100,
  OPT_SUBCOMMAND_FIRST = 0x200,   /* subcommands number theirs from here */
};

/* The leading ':' makes getopt return ':' for a missing argument. */
#define COMMON_SHORT_OPTIONS ":vh"
#define COMMON_LONG_OPTIONS                                            \
  { "verbose", no_argument, NULL, 'v' },                               \
  { "machine-readable", optional_argument, NULL, OPT_MACHINE_READABLE }, \
  { "help", no_argument, NULL, 'h' }

/* Handle option C just returned by getopt_long (uses optarg, optind,
 * optopt) for COMMAND ("disk", or NULL before the subcommand): -v,
 * --machine-readable, and unknown options or missing arguments, which
 * are usage errors.  Returns 1 if handled, 0 if C is the subcommand's
 * own, -1 on a usage error (reported).  Call with opterr = 0. */
int common_option (const char *command, int c, char **argv);

/* The option loop of a subcommand COMMAND: getopt_long over ARGV with
 * COMMON_SHORT_OPTIONS and LONG_OPTIONS; -h prints USAGE; the common
 * options go to common_option(), the others to OWN (returns 0, or -1
 * after reporting).  Returns 0 with optind at the first operand, 1
 * after printing the help, -1 on a usage error. */
int parse_options (const char *command, int argc, char **argv,
                   const struct option *long_options, const char *usage,
                   int (*own) (void *ctx, int c, const char *arg),
                   void *ctx);

/* Parse a size option's argument; reports "--OPT: ..." on error. */
int option_size (const char *opt, const char *arg, uint64_t *out);

/* Parse --block-size: a power of two from 512K to 256M (warns unless
 * 512K or 2M).  Returns 0 or -1 after reporting. */
int option_block_size (const char *arg, uint32_t *out);

/* Look ARG up in a NULL-terminated list of keywords; returns the index or
 * -1 after reporting "--OPT: ARG: expected one of ...". */
int option_keyword (const char *opt, const char *arg,
                    const char *const *keywords);

/* A subcommand's command line, for parse_command(). */
struct command_line {
  const char *name;             /* "vhd compact": for messages */
  const char *usage;            /* printed by -h/--help */
  const struct option *options; /* ends with COMMON_LONG_OPTIONS, {0} */
  /* The subcommand's own option C with ARG; 0, or -1 after reporting. */
  int (*option) (void *ctx, int c, const char *arg);
  int nargs;                    /* operands expected, exactly */
  const char *operands;         /* "FILE", "A and B": for messages */
};

/* Parse ARGV (ARGV[0] is the subcommand's name): the common options,
 * -h/--help (prints CL->usage and returns 1), the subcommand's own
 * options (CL->option with CTX), then CL->nargs operands into ARGS.
 * Returns 0, 1, or -1 on a usage error (reported). */
int parse_command (const struct command_line *cl, int argc, char **argv,
                   void *ctx, char **args);

/* Report a usage error: the message, then a hint to run --help. */
void usage_error (const char *command, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* The exit status for a subcommand that returned R (0 or -1): from the
 * first error code reported (usage -> 2, check -> 3, otherwise 1). */
int exit_status (int r);

/* ------------------------------------------------------------------ */
/* output.c: output files appear atomically.
 *
 * The data goes to a hidden temporary in the target directory
 * (".NAME.hvconvert-XXXXXX", which does not end in .vhd so nothing
 * mistakes it for a finished disk); output_commit() makes it durable and
 * renames it to its final name.  output_end() removes it if it was not
 * committed.  Signals (SIGINT, SIGTERM, SIGHUP) only set hv_interrupted;
 * the long loops see it, fail, and the caller's output_end() cleans up. */

struct output {
  char *final;       /* DST as given: the name it will have */
  char *tmp;         /* the temporary's path: what to create */
  char *tmp_base;    /* its last component, relative to dirfd */
  char *final_base;
  int dirfd;         /* the target directory */
  bool force;        /* replace an existing DST */
  bool no_sync;      /* --no-sync: rename without fsync (see output.c) */
  bool committed;
};

/* Flags of output_begin and outdir_begin. */
enum {
  OUTPUT_FORCE = 1u,        /* replace an existing output (--force) */
  OUTPUT_NO_SYNC = 2u,      /* no fsync before and after the rename
                             * (--no-sync) */
};

/* Check DST (an existing DST without OUTPUT_FORCE is refused with
 * HV_E_EXISTS, an unwritable directory with HV_E_IO) and choose the
 * temporary's name; creates nothing.  FLAGS: OUTPUT_*.  Returns 0 or -1
 * after reporting. */
int output_begin (struct output *o, const char *dst, unsigned flags);
/* fsync the temporary, rename it to DST, fsync the directory (no
 * fsync with no_sync). */
int output_commit (struct output *o);
/* Remove the temporary unless committed, and free O.  Accepts an output
 * that output_begin failed on. */
void output_end (struct output *o);

/* vm-json.c: NAME.json, the VM model with REPORT (JSON text) as
 * "report".  malloc'd, or NULL after reporting. */
char *vm_json (const struct vm *vm, const char *report);

/* The other definitions, as text (malloc'd, or NULL after reporting).
 * DIR is where the disks (vm_disk.output) are: vm-ps1.c, a Hyper-V
 * PowerShell script run from that folder; vm-libvirt.c, a libvirt
 * domain (DIR absolute); vm-ovf.c, an OVF 1.0 descriptor. */
char *vm_ps1 (const struct vm *vm);
char *vm_libvirt_xml (const struct vm *vm, const char *dir);
char *vm_ovf (const struct vm *vm, const char *dir);

/* vm-place.c: move drives where a Hyper-V machine of the model's
 * generation can have them (warnings say what moved). */
void vm_place_for_hyperv (struct vm *vm);

/* outdir.c: output directories (a machine) appear atomically: files are
 * written into a hidden temporary directory in PARENT, which is renamed
 * to PARENT/NAME when complete. */
struct outdir {
  char *final;       /* PARENT/NAME */
  char *tmp;         /* the temporary directory */
  bool force;        /* replace an existing PARENT/NAME */
  bool no_sync;      /* --no-sync: no fsync of files or directories */
  bool committed;
};
/* Create PARENT if needed and the temporary directory; refuses an
 * existing PARENT/NAME unless FORCE.  0 or -1 after reporting. */
int outdir_begin (struct outdir *o, const char *parent, const char *name,
                  unsigned flags);
/* The path of FILE in the temporary directory (malloc'd). */
char *outdir_path (const struct outdir *o, const char *file);
/* Write TEXT as FILE in the temporary directory, fsync'd. */
int outdir_write (const struct outdir *o, const char *file,
                  const char *text);
/* fsync the directory and rename it to PARENT/NAME; fsync PARENT. */
int outdir_commit (struct outdir *o);
/* Remove the temporary directory unless committed, and free O. */
void outdir_end (struct outdir *o);

/* import-disks.c: the hard disks of an imported machine, converted into
 * NAME-disk1.vhd, ... in the output directory (for an OVA, in one pass
 * over the archive: import-ova.c).  Sets each disk's output and size;
 * returns the report of the disks (a JSON object) or NULL. */
struct copy_stats;
struct import_opts {
  int type;                  /* enum vhd_type */
  unsigned open_flags;       /* IMPORTER_* */
  bool commit_undo;          /* read undo disks through (else skip them) */
};
char *import_disks (const struct import_opts *io, const struct outdir *o,
                    struct vm *vm);
/* Shared with import-ova.c: the N-th disk's file name; a new VHD of
 * SIZE bytes as FILE in the output directory; a disk's report (SHA256
 * of what was read, when it was cheap to have, else NULL). */
void import_disk_name (const struct vm *vm, unsigned n, char *file,
                       size_t len);
struct disk *import_create_vhd (const struct import_opts *io,
                                const struct outdir *o, const char *file,
                                uint64_t size);
char *import_disk_report (const struct vm_disk *d, const char *source,
                          const char *format, const char *sha256,
                          const struct copy_stats *st);
char *import_ova_disks (const struct import_opts *io,
                        const struct outdir *o, struct vm *vm);

/* Install the handlers of SIGINT, SIGTERM and SIGHUP: they set
 * hv_interrupted to the signal number.  Without SA_RESTART, so a blocked
 * system call returns EINTR and the loop checks the flag. */
void signals_install (void);

/* ------------------------------------------------------------------ */
/* copy.c: the copy engine.  Copies every byte of SRC to DST (same size)
 * through the struct disk interface: ranges SRC reports as zero are
 * neither read nor written, data that reads as zeros is not written, so
 * DST must read as zeros where it is not written (a new VHD does).
 * Reading and zero detection run in a second thread, overlapping the
 * writes, which stay in ascending order. */

struct copy_opts {
  /* The destination's allocation unit (a dynamic VHD's block size), or
   * 0.  Zero detection works in pieces that divide it, so an all-zero
   * unit is never written and stays unallocated. */
  uint32_t alloc_unit;
  const char *what;          /* progress label, e.g. the source name */
  /* A descriptor of the file under DST, or -1.  Writeback of the pages
   * written so far is started as the copy goes, so the disk works in
   * parallel and the final fsync has little left to wait for. */
  int writeback_fd;
};

struct copy_stats {
  uint64_t bytes_read;       /* from SRC */
  uint64_t bytes_written;    /* to DST (data only, not metadata) */
  double seconds;
};

int copy_disk (struct disk *src, struct disk *dst,
               const struct copy_opts *o, struct copy_stats *stats);

/* new-vhd.c: create the temporary of OUT (output_begin done) as a VHD
 * of TYPE (an enum vhd_type: fixed or dynamic) with blocks of BLOCK_SIZE
 * (0: the default), SRC's size, copy SRC into it and flush it.  The
 * caller commits OUT.  Returns 0 or -1 after reporting. */
int copy_to_new_vhd (struct disk *src, struct output *out, int type,
                     uint32_t block_size, struct copy_stats *st);
/* --type dynamic|fixed: the enum vhd_type in *TYPE; -1 after reporting. */
int option_vhd_type (const char *arg, int *type);

/* vhd-common.c: refuse, unless FORCE (then warn), when differencing
 * disks in FILE's directory have FILE (whose UUID is UUID) as their
 * parent, EXCEPT (a path, or NULL) aside: WHAT ("expanding it") would
 * make them invalid.  Lists them.  Returns 0 or -1 after reporting. */
int refuse_dependents (const char *file, const uint8_t uuid[16],
                       const char *except, bool force, const char *what);

/* ------------------------------------------------------------------ */
/* vhd-info.c: `vhd info` and `vhd check` output; return exit statuses. */

int vhd_info_command (const char *file, bool json);
int vhd_check_command (const char *file, bool json);

/* One file per vhd maintenance command: each takes the argv of
 * `vhd CMD ...` (ARGV[0] is CMD) and returns an exit status. */
int vhd_compact_cmd (int argc, char **argv);     /* vhd-compact.c */
int vhd_convert_cmd (int argc, char **argv);     /* vhd-convert.c */
/* vhd-convert.c: the VHD FILE (through its parents) copied to a new VHD
 * OUT of TYPE (enum vhd_type), atomically.  0 or -1 after reporting. */
int write_vhd_copy (const char *file, const char *out, int type,
                    uint32_t block_size, unsigned output_flags);
int vhd_expand_cmd (int argc, char **argv);      /* vhd-expand.c */
int vhd_merge_cmd (int argc, char **argv);       /* vhd-merge.c */
int vhd_diff_cmd (int argc, char **argv);        /* vhd-diff.c */

#endif /* HV_CONVERT_H */
