/* hvconvert vhd compact FILE: give back the space of empty blocks. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "convert.h"
#include "vhd.h"

static const char usage_text[] =
  "Usage: hvconvert vhd compact FILE\n"
  "Unallocate the blocks of a dynamic or differencing VHD that hold\n"
  "nothing (all zeros; an empty sector bitmap in a differencing disk) and\n"
  "shrink the file, in place.  The content does not change.\n"
  "\n"
  "  -v, --verbose      debug messages\n"
  "  --machine-readable[=FD]  JSON-lines events on FD\n"
  "  -h, --help         this help\n";

static const struct option long_options[] = {
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

static int
no_option (void *ctx, int c, const char *arg)
{
  usage_error ("vhd compact", "unexpected option");
  return -1;
}

static const struct command_line command = {
  "vhd compact", usage_text, long_options, no_option, 1, "FILE",
};

static void
report (const char *file, const struct vhd_compact_stats *st)
{
  struct json *j = json_new ("done");
  char before[32], after[32];

  json_str (j, "command", "vhd compact");
  json_str (j, "file", file);
  json_u64 (j, "blocks_before", st->blocks_before);
  json_u64 (j, "blocks_dropped", st->dropped);
  json_u64 (j, "blocks_moved", st->moved);
  json_u64 (j, "size_before", st->size_before);
  json_u64 (j, "size_after", st->size_after);
  json_emit (j);
  if (events_enabled ())
    return;
  format_size (st->size_before, before, sizeof before);
  format_size (st->size_after, after, sizeof after);
  fprintf (stderr, "%s: %s: %" PRIu32 " of %" PRIu32 " blocks were empty "
           "and are unallocated now, %" PRIu32 " moved; %s -> %s\n",
           hv_program_name, file, st->dropped, st->blocks_before, st->moved,
           before, after);
}

int
vhd_compact_cmd (int argc, char **argv)
{
  struct vhd_compact_stats st;
  char *file;
  int r = parse_command (&command, argc, argv, NULL, &file);

  if (r != 0)
    return r == 1 ? HV_EXIT_OK : HV_EXIT_USAGE;
  r = vhd_compact (file, &st);
  if (r == 0)
    report (file, &st);
  return exit_status (r);
}
