/* hvconvert vhd convert FILE OUT --type fixed|dynamic: a VHD rewritten
 * as another type; a differencing disk flattened with its parents into
 * a standalone disk.  FILE is not changed.  vhd merge --output is the
 * same copy. */
#include <config.h>

#include <stdio.h>

#include "convert.h"
#include "vhd.h"

static const char usage_text[] =
  "Usage: hvconvert vhd convert FILE OUT --type dynamic|fixed\n"
  "       [--block-size N] [--force] [--no-sync]\n"
  "Write the content of the VHD FILE (a differencing disk with its\n"
  "parents) to a new VHD OUT of the given type.  FILE is not changed.\n"
  "\n"
  "  --type TYPE        dynamic or fixed (required)\n"
  "  --block-size N     dynamic block size, 512K to 256M (default 2M)\n"
  "  --force            replace OUT if it exists\n"
  "  --no-sync          do not wait for OUT to reach the disk (no fsync)\n"
  "  -v, --verbose      debug messages\n"
  "  --machine-readable[=FD]  JSON-lines events on FD\n"
  "  -h, --help         this help\n";

enum {
  OPT_TYPE = OPT_SUBCOMMAND_FIRST, OPT_BLOCK_SIZE, OPT_FORCE, OPT_NO_SYNC,
};

static const struct option long_options[] = {
  { "type", required_argument, NULL, OPT_TYPE },
  { "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
  { "force", no_argument, NULL, OPT_FORCE },
  { "no-sync", no_argument, NULL, OPT_NO_SYNC },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

struct convert_args {
  int type;                   /* enum vhd_type; VHD_TYPE_NONE: not given */
  uint32_t block_size;
  unsigned output_flags;      /* OUTPUT_* */
};

static int
convert_option (void *ctx, int c, const char *arg)
{
  struct convert_args *a = ctx;

  switch (c) {
  case OPT_TYPE:
    return option_vhd_type (arg, &a->type);
  case OPT_BLOCK_SIZE:
    return option_block_size (arg, &a->block_size);
  case OPT_FORCE:
    a->output_flags |= OUTPUT_FORCE;
    return 0;
  case OPT_NO_SYNC:
    a->output_flags |= OUTPUT_NO_SYNC;
    return 0;
  default:
    usage_error ("vhd convert", "unexpected option");
    return -1;
  }
}

static const struct command_line command = {
  "vhd convert", usage_text, long_options, convert_option, 2,
  "FILE and OUT",
};

int
write_vhd_copy (const char *file, const char *out_name, int type,
                uint32_t block_size, unsigned output_flags)
{
  struct output out = { .dirfd = -1 };
  struct copy_stats st;
  struct disk *src = vhd_open (file, 0);
  int r = -1;

  if (src && vhd_disk_footer (src)->saved_state)
    hv_warning (HV_E_UNSUPPORTED, "%s: the saved-state flag is set: the "
                "copy is the disk as it is in the file", file);
  if (src && output_begin (&out, out_name, output_flags) == 0 &&
      copy_to_new_vhd (src, &out, type, block_size, &st) == 0 &&
      output_commit (&out) == 0)
    r = 0;
  output_end (&out);
  disk_close (src);
  if (r == 0 && !events_enabled ())
    fprintf (stderr, "%s: %s -> %s (%s)\n", hv_program_name, file, out_name,
             vhd_type_name (type));
  return r;
}

int
vhd_convert_cmd (int argc, char **argv)
{
  struct convert_args a = { .type = VHD_TYPE_NONE };
  char *args[2];
  int r = parse_command (&command, argc, argv, &a, args);

  if (r == 0 && a.type == VHD_TYPE_NONE) {
    usage_error ("vhd convert", "--type is required");
    r = -1;
  }
  if (r == 0 && a.block_size && a.type != VHD_TYPE_DYNAMIC) {
    usage_error ("vhd convert", "--block-size applies to dynamic VHDs only");
    r = -1;
  }
  if (r != 0)
    return r == 1 ? HV_EXIT_OK : HV_EXIT_USAGE;
  return exit_status (write_vhd_copy (args[0], args[1], a.type,
                                      a.block_size, a.output_flags));
}
