/* hvconvert vhd expand FILE --size N: grow a VHD's virtual size. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "convert.h"
#include "vhd.h"

static const char usage_text[] =
  "Usage: hvconvert vhd expand FILE --size N [--force]\n"
  "Grow the virtual size of a fixed or dynamic VHD, in place.  The new\n"
  "space reads as zeros; a disk never shrinks.\n"
  "\n"
  "  --size N           the new virtual size, up to 2040G (suffixes K, M,\n"
  "                     G, T; s = 512-byte sectors)\n"
  "  --force            expand even though differencing children in the\n"
  "                     same directory become invalid\n"
  "  -v, --verbose      debug messages\n"
  "  --machine-readable[=FD]  JSON-lines events on FD\n"
  "  -h, --help         this help\n";

enum { OPT_SIZE = OPT_SUBCOMMAND_FIRST, OPT_FORCE };

static const struct option long_options[] = {
  { "size", required_argument, NULL, OPT_SIZE },
  { "force", no_argument, NULL, OPT_FORCE },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

struct expand_args {
  uint64_t size;
  bool size_given, force;
};

static int
expand_option (void *ctx, int c, const char *arg)
{
  struct expand_args *a = ctx;

  switch (c) {
  case OPT_SIZE:
    a->size_given = true;
    return option_size ("size", arg, &a->size);
  case OPT_FORCE:
    a->force = true;
    return 0;
  default:
    usage_error ("vhd expand", "unexpected option");
    return -1;
  }
}

static const struct command_line command = {
  "vhd expand", usage_text, long_options, expand_option, 1, "FILE",
};

/* The disk's size and UUID, and whether children stand in the way. */
static int
check_children (const char *file, bool force, uint64_t *old)
{
  struct disk *d = vhd_open (file, VHD_OPEN_NOPARENT);
  int r;

  if (d == NULL)
    return -1;
  *old = d->size;
  r = refuse_dependents (file, vhd_disk_footer (d)->uuid, NULL, force,
                         "expanding it");
  disk_close (d);
  return r;
}

static void
report (const char *file, uint64_t old, uint64_t size)
{
  struct json *j = json_new ("done");
  char a[32], b[32];

  json_str (j, "command", "vhd expand");
  json_str (j, "file", file);
  json_u64 (j, "size_before", old);
  json_u64 (j, "size_after", size);
  json_emit (j);
  if (events_enabled ())
    return;
  format_size (old, a, sizeof a);
  format_size (size, b, sizeof b);
  if (old == size)
    fprintf (stderr, "%s: %s: the virtual size is already %s\n",
             hv_program_name, file, b);
  else
    fprintf (stderr, "%s: %s: virtual size %s -> %s\n", hv_program_name,
             file, a, b);
}

int
vhd_expand_cmd (int argc, char **argv)
{
  struct expand_args a = { 0 };
  uint64_t old = 0;
  char *file;
  int r = parse_command (&command, argc, argv, &a, &file);

  if (r == 0 && !a.size_given) {
    usage_error ("vhd expand", "--size is required");
    r = -1;
  }
  if (r == 0 && (a.size == 0 || a.size % VHD_SECTOR)) {
    usage_error ("vhd expand", "--size must be a positive multiple of 512 "
                 "bytes");
    r = -1;
  }
  if (r != 0)
    return r == 1 ? HV_EXIT_OK : HV_EXIT_USAGE;
  r = check_children (file, a.force, &old);
  if (r == 0)
    r = vhd_expand (file, a.size);
  if (r == 0)
    report (file, old, a.size);
  return exit_status (r);
}
