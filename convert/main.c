/* hvconvert: the global options and the table of subcommands.  The only
 * place that decides the exit status. */
#include <config.h>

#include <stdio.h>

#include "convert.h"

struct subcommand {
  const char *name;
  int (*run) (int argc, char **argv);   /* returns an exit status */
  const char *summary;                  /* one line for --help */
};

static const struct subcommand subcommands[] = {
  { "disk", cmd_disk, "copy a disk image or block device into a new VHD" },
  { "import", cmd_import, "convert a whole machine: its disks and its "
    "definition" },
  { "vhd", cmd_vhd, "create, inspect, check and maintain VHD files" },
  { "inject", cmd_inject, "enlighten the guest on disks: Hyper-V drivers "
    "before its first boot" },
  { "verify", cmd_verify, "boot a machine under QEMU and say whether it "
    "booted" },
  { "run", cmd_run, "boot a machine under QEMU on this terminal" },
  { "doctor", cmd_doctor, "check what this host offers (KVM, QEMU, ...)" },
};

enum { OPT_VERSION = OPT_SUBCOMMAND_FIRST };

static const struct option long_options[] = {
  { "version", no_argument, NULL, OPT_VERSION },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

static void
usage (void)
{
  printf ("Usage: %s [-v] [--machine-readable[=FD]] COMMAND [ARGS...]\n"
          "Convert disks and virtual machines to Microsoft VHD.\n\n"
          "Commands:\n", hv_program_name);
  for (size_t i = 0; i < ARRAY_SIZE (subcommands); i++)
    printf ("  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
  printf ("\nOptions:\n"
          "  -v, --verbose            debug messages on stderr\n"
          "  --machine-readable[=FD]  JSON-lines events on FD (default 1)\n"
          "  --version                print the version\n"
          "  -h, --help               this help\n\n"
          "Run '%s COMMAND --help' for a command's options; see "
          "hvconvert(1).\n", hv_program_name);
}

/* Options before the subcommand.  Returns -1 to run a subcommand from
 * argv[optind], or an exit status to stop with. */
static int
global_options (int argc, char **argv)
{
  int c, r;

  opterr = 0;
  /* '+': stop at the subcommand, whose options are its own. */
  while ((c = getopt_long (argc, argv, "+" COMMON_SHORT_OPTIONS,
                           long_options, NULL)) != -1) {
    if (c == 'h') {
      usage ();
      return HV_EXIT_OK;
    }
    if (c == OPT_VERSION) {
      printf ("%s %s\n", hv_program_name, PACKAGE_VERSION);
      return HV_EXIT_OK;
    }
    r = common_option (NULL, c, argv);
    if (r != 1)
      return HV_EXIT_USAGE;
  }
  if (optind >= argc) {
    usage_error (NULL, "no command given");
    return HV_EXIT_USAGE;
  }
  return -1;
}

static int
dispatch (int argc, char **argv)
{
  for (size_t i = 0; i < ARRAY_SIZE (subcommands); i++)
    if (strcmp (argv[0], subcommands[i].name) == 0)
      return subcommands[i].run (argc, argv);
  usage_error (NULL, "unknown command '%s'", argv[0]);
  return HV_EXIT_USAGE;
}

int
main (int argc, char **argv)
{
  int status = global_options (argc, argv);

  if (status != -1)
    return status;
  signals_install ();
  status = dispatch (argc - optind, argv + optind);
  /* An interrupted run says so in its status, like a shell would. */
  if (status != HV_EXIT_OK && hv_interrupted)
    return 128 + hv_interrupted;
  return status;
}
