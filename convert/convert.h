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
};

/* ------------------------------------------------------------------ */
/* Subcommands: the table in main.c lists them.  ARGV[0] is the
 * subcommand's name. */

int cmd_disk (int argc, char **argv);
int cmd_vhd (int argc, char **argv);
int cmd_doctor (int argc, char **argv);
int cmd_verify (int argc, char **argv);
int cmd_run (int argc, char **argv);

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
  int fd;            /* the temporary, read-only, once output_fd() ran */
  bool force;        /* replace an existing DST */
  bool committed;
};

/* Check DST (an existing DST without FORCE is refused with HV_E_EXISTS,
 * an unwritable directory with HV_E_IO) and choose the temporary's name;
 * creates nothing.  Returns 0 or -1 after reporting. */
int output_begin (struct output *o, const char *dst, bool force);
/* A descriptor of the temporary (after the caller created it), for
 * fsync and writeback hints; owned by O.  -1 after reporting. */
int output_fd (struct output *o);
/* fsync the temporary, rename it to DST, fsync the directory. */
int output_commit (struct output *o);
/* Remove the temporary unless committed, and free O.  Accepts an output
 * that output_begin failed on. */
void output_end (struct output *o);

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

/* ------------------------------------------------------------------ */
/* vhd-info.c: `vhd info` and `vhd check` output; return exit statuses. */

int vhd_info_command (const char *file, bool json);
int vhd_check_command (const char *file, bool json);

#endif /* HV_CONVERT_H */
