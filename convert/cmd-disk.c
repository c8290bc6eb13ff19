/* hvconvert disk SRC DST.vhd: copy a disk image or block device into a
 * new VHD.
 *
 * The source is opened read-only by importer_open (format detected by
 * content unless --format says); the VHD is created as a hidden
 * temporary beside DST, filled by the copy engine, flushed, and renamed
 * into place only when complete (output.c).
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "convert.h"
#include "importers.h"
#include "vhd.h"

static const char usage_text[] =
  "Usage: hvconvert disk [OPTIONS] SRC DST.vhd\n"
  "Copy the disk image or block device SRC into a new VHD.\n"
  "\n"
  "  --type dynamic|fixed   VHD type (default: dynamic)\n"
  "  --block-size N         dynamic block size, 512K to 256M (default: 2M)\n"
  "  --format FORMAT        format of SRC (default: detect by content)\n"
  "  --allow-outside-paths  follow backing files and extents named by SRC\n"
  "                         outside its directory\n"
  "  --force                replace DST if it exists\n"
  "  --no-sync              do not wait for DST to reach the disk (no\n"
  "                         fsync): faster, not crash-safe\n"
  "  -v, --verbose          debug messages\n"
  "  --machine-readable[=FD]  JSON events on FD (default: stdout)\n"
  "  -h, --help             this help\n";

struct disk_args {
  const char *src, *dst;
  const char *format;           /* NULL: detect */
  enum vhd_type type;
  uint32_t block_size;          /* 0: not given */
  unsigned output_flags;        /* OUTPUT_* */
  unsigned open_flags;          /* IMPORTER_* */
};

enum {
  OPT_TYPE = OPT_SUBCOMMAND_FIRST,
  OPT_BLOCK_SIZE,
  OPT_FORMAT,
  OPT_FORCE,
  OPT_NO_SYNC,
  OPT_ALLOW_OUTSIDE,
};

static const struct option long_options[] = {
  { "type", required_argument, NULL, OPT_TYPE },
  { "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
  { "format", required_argument, NULL, OPT_FORMAT },
  { "force", no_argument, NULL, OPT_FORCE },
  { "no-sync", no_argument, NULL, OPT_NO_SYNC },
  { "allow-outside-paths", no_argument, NULL, OPT_ALLOW_OUTSIDE },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* ---------------------------------------------------------------- */
/* The command line. */

static int
disk_option (struct disk_args *a, int c, const char *arg)
{
  int type;

  switch (c) {
  case OPT_TYPE:
    if (option_vhd_type (arg, &type) == -1)
      return -1;
    a->type = type;
    return 0;
  case OPT_BLOCK_SIZE:
    return option_block_size (arg, &a->block_size);
  case OPT_FORMAT:
    a->format = arg;
    return 0;
  case OPT_FORCE:
    a->output_flags |= OUTPUT_FORCE;
    return 0;
  case OPT_NO_SYNC:
    a->output_flags |= OUTPUT_NO_SYNC;
    return 0;
  case OPT_ALLOW_OUTSIDE:
    a->open_flags |= IMPORTER_ALLOW_OUTSIDE;
    return 0;
  default:
    usage_error ("disk", "unexpected option");
    return -1;
  }
}

/* What getopt cannot check: the two names, and a block size that only a
 * dynamic VHD has. */
static int
check_args (struct disk_args *a, int nargs, char **args)
{
  if (nargs != 2) {
    usage_error ("disk", "expected SRC and DST, got %d argument%s", nargs,
                 nargs == 1 ? "" : "s");
    return -1;
  }
  a->src = args[0];
  a->dst = args[1];
  if (a->block_size && a->type != VHD_TYPE_DYNAMIC) {
    usage_error ("disk", "--block-size applies to dynamic VHDs only");
    return -1;
  }
  return 0;
}

/* Returns 0 to go on, 1 after printing the help, -1 on a usage error. */
static int
parse_args (int argc, char **argv, struct disk_args *a)
{
  int c, r;

  *a = (struct disk_args) { .type = VHD_TYPE_DYNAMIC };
  optind = 0;                   /* glibc: restart the scan */
  opterr = 0;
  while ((c = getopt_long (argc, argv, COMMON_SHORT_OPTIONS, long_options,
                           NULL)) != -1) {
    if (c == 'h') {
      fputs (usage_text, stdout);
      return 1;
    }
    r = common_option ("disk", c, argv);
    if (r == -1 || (r == 0 && disk_option (a, c, optarg) == -1))
      return -1;
  }
  return check_args (a, argc - optind, argv + optind);
}

/* ---------------------------------------------------------------- */
/* The conversion. */

static void
emit_start (const struct disk_args *a, const struct disk *src)
{
  struct json *j = json_new ("start");

  json_str (j, "command", "disk");
  json_str (j, "source", a->src);
  json_str (j, "destination", a->dst);
  json_str (j, "format", src->ops->name);
  json_u64 (j, "virtual_size", src->size);
  json_str (j, "type", vhd_type_name (a->type));
  json_emit (j);
}

static void
report_done (const struct disk_args *a, const struct copy_stats *st)
{
  struct json *j = json_new ("done");
  char rd[32], wr[32];

  json_u64 (j, "bytes_read", st->bytes_read);
  json_u64 (j, "bytes_written", st->bytes_written);
  json_double (j, "seconds", st->seconds);
  json_emit (j);
  if (events_enabled ())
    return;
  format_size (st->bytes_read, rd, sizeof rd);
  format_size (st->bytes_written, wr, sizeof wr);
  fprintf (stderr, "%s: %s -> %s: read %s, wrote %s in %.2f s\n",
           hv_program_name, a->src, a->dst, rd, wr, st->seconds);
}

static int
convert_disk (const struct disk_args *a)
{
  struct output out = { .dirfd = -1 };
  struct copy_stats st;
  const double start = now_seconds ();
  struct disk *src = importer_open (a->src, a->format, a->open_flags);
  int r = -1;

  if (src && vhd_check_size (a->src, src->size) == 0 &&
      output_begin (&out, a->dst, a->output_flags) == 0) {
    emit_start (a, src);
    if (copy_to_new_vhd (src, &out, a->type, a->block_size, &st) == 0 &&
        output_commit (&out) == 0)
      r = 0;
  }
  output_end (&out);
  disk_close (src);
  if (r == 0) {
    st.seconds = now_seconds () - start;
    report_done (a, &st);
  }
  return r;
}

int
cmd_disk (int argc, char **argv)
{
  struct disk_args a;
  int r = parse_args (argc, argv, &a);

  if (r == 1)
    return HV_EXIT_OK;
  if (r == -1)
    return HV_EXIT_USAGE;
  return exit_status (convert_disk (&a));
}
