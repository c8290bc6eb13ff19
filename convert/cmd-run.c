/* hvconvert run DISK...: boot the machine for a person, its serial
 * console on the terminal.  Writes go to throw-away overlays unless
 * --writable.  The work is hv_run_vm() (hypervisor/run.c). */
#include <config.h>

#include <stdio.h>

#include "convert.h"
#include "hypervisor.h"

static const char usage_text[] =
  "Usage: hvconvert run [OPTIONS] DISK...\n"
  "Boot the machine made of DISK... under QEMU with its serial console on\n"
  "this terminal (Ctrl-A X quits).  Writes go to throw-away overlays.\n"
  "\n"
  "  --profile gen1|gen1-enlightened|gen2  the virtual hardware (default: "
  "gen1)\n"
  "  --vnc                  also show the screen on a VNC display on "
  "localhost\n"
  "  --writable             write to the disks themselves\n"
  "  -v, --verbose          debug messages\n"
  "  --machine-readable[=FD]  JSON events on FD (default: stdout)\n"
  "  -h, --help             this help\n";

enum {
  OPT_PROFILE = OPT_SUBCOMMAND_FIRST,
  OPT_VNC,
  OPT_WRITABLE,
};

static const struct option long_options[] = {
  { "profile", required_argument, NULL, OPT_PROFILE },
  { "vnc", no_argument, NULL, OPT_VNC },
  { "writable", no_argument, NULL, OPT_WRITABLE },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

static int
run_option (void *ctx, int c, const char *arg)
{
  struct hv_run_opts *o = ctx;

  switch (c) {
  case OPT_PROFILE: return option_profile (arg, &o->profile);
  case OPT_VNC: o->vnc = true; return 0;
  case OPT_WRITABLE: o->writable = true; return 0;
  default: return -1;
  }
}

/* Returns 0 to go on, 1 after printing the help, -1 on a usage error. */
static int
parse_args (int argc, char **argv, struct hv_run_opts *o)
{
  int r = parse_options ("run", argc, argv, long_options, usage_text,
                         run_option, o);

  if (r == 0 && optind >= argc) {
    usage_error ("run", "expected at least one DISK");
    return -1;
  }
  return r;
}

int
cmd_run (int argc, char **argv)
{
  struct hv_run_opts o = { .profile = HV_PROFILE_GEN1 };
  struct vm *vm;
  int r = parse_args (argc, argv, &o);

  if (r == 1)
    return HV_EXIT_OK;
  if (r == -1)
    return HV_EXIT_USAGE;
  vm = machine_from_disks (argv + optind, argc - optind);
  if (vm == NULL)
    return exit_status (-1);
  r = hv_run_vm (vm, &o);
  vm_free (vm);
  return r == -1 ? exit_status (-1) : r;
}
