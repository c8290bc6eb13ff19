/* hvconvert vhd merge CHILD [--into PARENT | --output NEW]: fold a
 * differencing disk into its parent (and remove it), or write the
 * flattened chain to a new VHD. */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>

#include "convert.h"
#include "vhd.h"

static const char usage_text[] =
  "Usage: hvconvert vhd merge CHILD [--into PARENT | --output NEW]\n"
  "       [--force]\n"
  "Fold the differencing VHD CHILD into its parent and remove CHILD, or\n"
  "with --output write CHILD's content (with its parents) to a new\n"
  "dynamic VHD, changing nothing.\n"
  "\n"
  "  --into PARENT      the parent to merge into: must be CHILD's parent\n"
  "                     (default: the parent CHILD names)\n"
  "  --output NEW       write a new standalone VHD instead\n"
  "  --force            merge even though other differencing disks depend\n"
  "                     on the parent or on CHILD; with --output, replace\n"
  "                     NEW if it exists\n"
  "  -v, --verbose      debug messages\n"
  "  --machine-readable[=FD]  JSON-lines events on FD\n"
  "  -h, --help         this help\n";

enum { OPT_INTO = OPT_SUBCOMMAND_FIRST, OPT_OUTPUT, OPT_FORCE };

static const struct option long_options[] = {
  { "into", required_argument, NULL, OPT_INTO },
  { "output", required_argument, NULL, OPT_OUTPUT },
  { "force", no_argument, NULL, OPT_FORCE },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

struct merge_args {
  const char *into, *output;
  bool force;
};

static int
merge_option (void *ctx, int c, const char *arg)
{
  struct merge_args *a = ctx;

  switch (c) {
  case OPT_INTO: a->into = arg; return 0;
  case OPT_OUTPUT: a->output = arg; return 0;
  case OPT_FORCE: a->force = true; return 0;
  default:
    usage_error ("vhd merge", "unexpected option");
    return -1;
  }
}

static const struct command_line command = {
  "vhd merge", usage_text, long_options, merge_option, 1, "CHILD",
};

/* Other disks that merging would break: the parent's other children,
 * and CHILD's own children (CHILD goes away). */
static int
check_dependents (const char *child, bool force)
{
  struct disk *chain = vhd_open (child, 0);
  struct disk *parent = vhd_disk_parent (chain);
  int r = -1;

  if (chain == NULL)
    return -1;
  if (parent == NULL)
    hv_error (HV_E_UNSUPPORTED, "%s: not a differencing disk: there is "
              "nothing to merge", child);
  else if (refuse_dependents (vhd_disk_path (parent),
                              vhd_disk_footer (parent)->uuid, child, force,
                              "merging into it") == 0 &&
           refuse_dependents (child, vhd_disk_footer (chain)->uuid, NULL,
                              force, "merging and removing it") == 0)
    r = 0;
  disk_close (chain);
  return r;
}

/* The merge is committed: remove CHILD, durably. */
static int
remove_child (const char *child)
{
  CLEANUP_FREE char *copy = strdup (child);
  CLEANUP_CLOSE int dirfd = -1;

  if (copy == NULL || unlink (child) == -1) {
    hv_error (HV_E_IO, "%s: removing it after the merge: %m", child);
    return -1;
  }
  dirfd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd == -1 || full_fsync (dirfd) == -1) {
    hv_error (HV_E_IO, "%s: syncing its directory: %m", child);
    return -1;
  }
  return 0;
}

static void
report (const char *child, const char *parent,
        const struct vhd_merge_stats *st)
{
  struct json *j = json_new ("done");
  char bytes[32];

  json_str (j, "command", "vhd merge");
  json_str (j, "child", child);
  json_str (j, "parent", parent);
  json_u64 (j, "blocks_written", st->blocks);
  json_u64 (j, "bytes_merged", st->bytes);
  json_emit (j);
  if (events_enabled ())
    return;
  format_size (st->bytes, bytes, sizeof bytes);
  fprintf (stderr, "%s: %s merged into %s (%s in %" PRIu32 " block%s) and "
           "removed\n", hv_program_name, child, parent, bytes, st->blocks,
           st->blocks == 1 ? "" : "s");
}

static int
merge_into (const char *child, const struct merge_args *a)
{
  struct vhd_merge_stats st;
  char *parent = NULL;
  int r;

  r = check_dependents (child, a->force);
  if (r == 0)
    r = vhd_merge (child, a->into, &parent, &st);
  if (r == 0)
    r = remove_child (child);
  if (r == 0)
    report (child, parent, &st);
  free (parent);
  return r;
}

int
vhd_merge_cmd (int argc, char **argv)
{
  struct merge_args a = { 0 };
  char *child;
  int r = parse_command (&command, argc, argv, &a, &child);

  if (r == 0 && a.into && a.output) {
    usage_error ("vhd merge", "--into and --output exclude each other");
    r = -1;
  }
  if (r != 0)
    return r == 1 ? HV_EXIT_OK : HV_EXIT_USAGE;
  if (a.output)
    return exit_status (write_vhd_copy (child, a.output, VHD_TYPE_DYNAMIC,
                                        0, a.force ? OUTPUT_FORCE : 0));
  return exit_status (merge_into (child, &a));
}
