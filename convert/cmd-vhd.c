/* hvconvert vhd COMMAND: VHD files on their own.  create, info and check
 * are here; the maintenance commands have a file each (vhd-*.c). */
#include <config.h>

#include <stdio.h>

#include "convert.h"
#include "vhd.h"

struct vhd_subcommand {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
};

static int vhd_create_cmd (int argc, char **argv);
static int vhd_info_cmd (int argc, char **argv);
static int vhd_check_cmd (int argc, char **argv);

static const struct vhd_subcommand vhd_subcommands[] = {
  { "create", vhd_create_cmd, "create an empty fixed, dynamic or "
    "differencing VHD" },
  { "info", vhd_info_cmd, "show type, size, geometry, creator, blocks "
    "and parent chain" },
  { "check", vhd_check_cmd, "validate the structure; one line per problem" },
  { "compact", vhd_compact_cmd, "unallocate empty blocks and shrink the "
    "file, in place" },
  { "convert", vhd_convert_cmd, "copy to a new fixed or dynamic VHD "
    "(flattening a chain)" },
  { "expand", vhd_expand_cmd, "grow the virtual size, in place" },
  { "merge", vhd_merge_cmd, "fold a differencing disk into its parent" },
  { "diff", vhd_diff_cmd, "compare the content of two disks" },
  { "compare", vhd_diff_cmd, "the same as diff" },
};

enum {
  OPT_SIZE = OPT_SUBCOMMAND_FIRST, OPT_TYPE, OPT_BLOCK_SIZE, OPT_PARENT,
  OPT_FORCE, OPT_JSON,
};

static void
vhd_usage (void)
{
  printf ("Usage: %s vhd COMMAND [OPTIONS] FILE\n\nCommands:\n",
          hv_program_name);
  for (size_t i = 0; i < ARRAY_SIZE (vhd_subcommands); i++)
    printf ("  %-7s %s\n", vhd_subcommands[i].name,
            vhd_subcommands[i].summary);
  printf ("\nRun '%s vhd COMMAND --help' for its options; see "
          "hvconvert-vhd(1).\n", hv_program_name);
}

static void
create_usage (void)
{
  printf ("Usage: %s vhd create FILE [--size N] [--type dynamic|fixed]\n"
          "       [--block-size N] [--parent PARENT.vhd] [--force]\n\n"
          "Create an empty VHD.  Without --size: 127 GiB (Hyper-V's "
          "default).\n\n"
          "  --size N           virtual size: a multiple of 512 up to 2040G\n"
          "                     (suffixes K, M, G, T; s = 512-byte sectors)\n"
          "  --type TYPE        dynamic (default) or fixed\n"
          "  --block-size N     dynamic block size, 512K to 256M (default 2M)\n"
          "  --parent P.vhd     make a differencing disk of P.vhd (size and\n"
          "                     type come from the parent)\n"
          "  --force            replace FILE if it exists\n"
          "  -v, --verbose      debug messages\n"
          "  --machine-readable[=FD]  JSON-lines events on FD\n"
          "  -h, --help         this help\n", hv_program_name);
}

static void
info_usage (const char *name, const char *what)
{
  printf ("Usage: %s vhd %s FILE [--json]\n\n%s\n\n"
          "  --json             print one JSON object\n"
          "  -v, --verbose      debug messages\n"
          "  --machine-readable[=FD]  JSON-lines events on FD\n"
          "  -h, --help         this help\n", hv_program_name, name, what);
}

struct create_args {
  const char *file, *parent;
  uint64_t size;
  uint32_t block_size;
  int type;                 /* index into type_names */
  bool force, size_given, type_given;
};

static const char *const type_names[] = { "dynamic", "fixed", NULL };

static const struct option create_options[] = {
  { "size", required_argument, NULL, OPT_SIZE },
  { "type", required_argument, NULL, OPT_TYPE },
  { "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
  { "parent", required_argument, NULL, OPT_PARENT },
  { "force", no_argument, NULL, OPT_FORCE },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* Returns 1 for --help, 0 to go on, -1 on a usage error. */
static int
create_parse (int argc, char **argv, struct create_args *a)
{
  int c, r = 0;

  *a = (struct create_args) { .size = VHD_DEFAULT_SIZE };
  opterr = 0;
  optind = 0;                   /* glibc: restart the scan */
  while (r == 0 && (c = getopt_long (argc, argv, COMMON_SHORT_OPTIONS,
                                     create_options, NULL)) != -1) {
    if ((r = common_option ("vhd create", c, argv)) != 0) {
      r = r == 1 ? 0 : -1;
      continue;
    }
    switch (c) {
    case 'h': create_usage (); return 1;
    case OPT_SIZE:
      r = option_size ("size", optarg, &a->size);
      a->size_given = true;
      break;
    case OPT_TYPE:
      r = (a->type = option_keyword ("type", optarg, type_names)) < 0 ? -1 : 0;
      a->type_given = true;
      break;
    case OPT_BLOCK_SIZE: r = option_block_size (optarg, &a->block_size); break;
    case OPT_PARENT: a->parent = optarg; break;
    case OPT_FORCE: a->force = true; break;
    }
  }
  if (r == 0 && optind != argc - 1) {
    usage_error ("vhd create", "expected one FILE");
    r = -1;
  }
  a->file = r == 0 ? argv[optind] : NULL;
  return r;
}

static int
create_run (const struct create_args *a)
{
  struct output out;
  struct vhd_create_opts o = {
    .type = a->parent ? VHD_TYPE_DIFF
      : a->type == 1 ? VHD_TYPE_FIXED : VHD_TYPE_DYNAMIC,
    .size = a->size, .block_size = a->block_size, .parent = a->parent,
    .final_name = a->file,
  };
  struct disk *d;
  int r = -1;

  if (output_begin (&out, a->file, a->force ? OUTPUT_FORCE : 0) == 0 &&
      (d = vhd_create (out.tmp, &o)) != NULL) {
    r = disk_flush (d);
    disk_close (d);
    if (r == 0)
      r = output_commit (&out);
  }
  output_end (&out);
  return r;
}

static int
vhd_create_cmd (int argc, char **argv)
{
  struct create_args a;
  int r = create_parse (argc, argv, &a);

  if (r == 1)
    return HV_EXIT_OK;
  if (r == 0 && a.parent && (a.type_given || a.size_given)) {
    usage_error ("vhd create", "--parent makes a differencing disk whose "
                 "size comes from the parent; --%s does not apply",
                 a.size_given ? "size" : "type");
    r = -1;
  }
  if (r == 0 && a.block_size && a.type == 1) {
    usage_error ("vhd create", "--block-size applies to dynamic VHDs only");
    r = -1;
  }
  if (r == 0 && (a.size == 0 || a.size % VHD_SECTOR)) {
    usage_error ("vhd create", "--size must be a positive multiple of 512 "
                 "bytes");
    r = -1;
  }
  if (r == 0)
    r = create_run (&a);
  return exit_status (r);
}

static const struct option json_options[] = {
  { "json", no_argument, NULL, OPT_JSON },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* FILE [--json] for info and check.  Returns 1 for --help. */
static int
json_parse (int argc, char **argv, const char *cmd, const char *what,
            const char **file, bool *json)
{
  int c, r = 0;

  *json = false;
  opterr = 0;
  optind = 0;                   /* glibc: restart the scan */
  while (r == 0 && (c = getopt_long (argc, argv, COMMON_SHORT_OPTIONS,
                                     json_options, NULL)) != -1) {
    if ((r = common_option (cmd, c, argv)) != 0)
      r = r == 1 ? 0 : -1;
    else if (c == 'h') {
      info_usage (argv[0], what);
      return 1;
    }
    else if (c == OPT_JSON)
      *json = true;
  }
  if (r == 0 && optind != argc - 1) {
    usage_error (cmd, "expected one FILE");
    r = -1;
  }
  *file = r == 0 ? argv[optind] : NULL;
  return r;
}

static int
vhd_info_cmd (int argc, char **argv)
{
  const char *file;
  bool json;
  int r = json_parse (argc, argv, "vhd info", "Show what a VHD is: type, "
                      "virtual size, CHS geometry, creator, UUID,\nsaved "
                      "state, block size, allocated blocks and the parent "
                      "chain.", &file, &json);

  if (r != 0)
    return r == 1 ? HV_EXIT_OK : HV_EXIT_USAGE;
  return vhd_info_command (file, json);
}

static int
vhd_check_cmd (int argc, char **argv)
{
  const char *file;
  bool json;
  int r = json_parse (argc, argv, "vhd check", "Validate a VHD's structure "
                      "and print one line per problem; exit 3 if\nthere "
                      "are problems.", &file, &json);

  if (r != 0)
    return r == 1 ? HV_EXIT_OK : HV_EXIT_USAGE;
  return vhd_check_command (file, json);
}

int
cmd_vhd (int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0 ||
      strcmp (argv[1], "-h") == 0) {
    vhd_usage ();
    return argc < 2 ? HV_EXIT_USAGE : HV_EXIT_OK;
  }
  for (size_t i = 0; i < ARRAY_SIZE (vhd_subcommands); i++)
    if (strcmp (argv[1], vhd_subcommands[i].name) == 0)
      return vhd_subcommands[i].run (argc - 1, argv + 1);
  usage_error ("vhd", "unknown command '%s'", argv[1]);
  return HV_EXIT_USAGE;
}
