/* hvconvert verify DISK...: boot the machine made of the disks under
 * QEMU on throw-away overlays and give a verdict a script can trust.
 *
 * The machine is a bare-disk model (common/vm.c: IDE 0:0, 0:1, 1:0,
 * 1:1, 1 GiB, one vCPU) with one legacy network adapter, as Hyper-V's
 * New-VM gives a new machine one adapter.  The work is hv_verify()
 * (hypervisor/verify.c); this file is the command line and the output.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>

#include "convert.h"
#include "hypervisor.h"

static const char usage_text[] =
  "Usage: hvconvert verify [OPTIONS] DISK...\n"
  "Boot the machine made of DISK... under QEMU, on throw-away overlays,\n"
  "and say whether it booted.  Exit status 0 only if it did.\n"
  "\n"
  "  --profile gen1|gen1-enlightened|gen2  the virtual hardware (default: "
  "gen1)\n"
  "  --timeout S            give up S seconds after QEMU starts "
  "(default: 300)\n"
  "  --log-dir DIR          keep the logs in DIR (default: a new\n"
  "                         $TMPDIR/hvconvert-verify.XXXXXX)\n"
  "  --json                 the verdict as one JSON object on stdout\n"
  "  -v, --verbose          debug messages\n"
  "  --machine-readable[=FD]  JSON events on FD (default: stdout)\n"
  "  -h, --help             this help\n";

#define DEFAULT_TIMEOUT 300.0
#define MAX_TIMEOUT (24 * 3600.0)

enum {
  OPT_PROFILE = OPT_SUBCOMMAND_FIRST,
  OPT_TIMEOUT,
  OPT_LOG_DIR,
  OPT_JSON,
};

static const struct option long_options[] = {
  { "profile", required_argument, NULL, OPT_PROFILE },
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { "log-dir", required_argument, NULL, OPT_LOG_DIR },
  { "json", no_argument, NULL, OPT_JSON },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* Exit statuses per verdict (documented in hvconvert-verify(1)). */
static const int verdict_status[HV_VERDICT_NONE + 1] = {
  [HV_VERDICT_BOOTED] = 0,
  [HV_VERDICT_NO_BOOTABLE_DEVICE] = 10,
  [HV_VERDICT_BOOTLOADER_FAILED] = 11,
  [HV_VERDICT_KERNEL_PANIC] = 12,
  [HV_VERDICT_ROOT_NOT_FOUND] = 13,
  [HV_VERDICT_STOPPED] = 14,
  [HV_VERDICT_TIMEOUT] = 15,
  [HV_VERDICT_NONE] = 15,
};

int
verify_exit_status (int verdict)
{
  return verdict >= 0 && verdict <= HV_VERDICT_NONE ? verdict_status[verdict]
    : 15;
}

struct verify_args {
  struct hv_verify_opts opts;
  bool json;
  char **disks;
  size_t ndisks;
};

int
option_profile (const char *arg, enum hv_profile *out)
{
  int i = option_keyword ("profile", arg, hv_profile_names);

  if (i == -1)
    return -1;
  *out = i;
  return 0;
}

struct vm *
machine_from_disks (char *const *paths, size_t n)
{
  const struct vm_nic nic = { .model = "dec21140" };
  struct vm *vm = vm_from_disks (paths, n);

  if (vm && vm_add_nic (vm, &nic) == -1) {
    vm_free (vm);
    return NULL;
  }
  return vm;
}

static int
option_timeout (const char *arg, double *out)
{
  char *end;

  errno = 0;
  *out = strtod (arg, &end);
  if (errno || end == arg || *end || !(*out > 0 && *out <= MAX_TIMEOUT)) {
    hv_error (HV_E_USAGE, "--timeout: '%s' is not a number of seconds from "
              "0 to %.0f", arg, MAX_TIMEOUT);
    return -1;
  }
  return 0;
}

static int
verify_option (void *ctx, int c, const char *arg)
{
  struct verify_args *a = ctx;

  switch (c) {
  case OPT_PROFILE: return option_profile (arg, &a->opts.profile);
  case OPT_TIMEOUT: return option_timeout (arg, &a->opts.timeout);
  case OPT_LOG_DIR: a->opts.log_dir = arg; return 0;
  case OPT_JSON: a->json = true; return 0;
  default:
    usage_error ("verify", "unexpected option");
    return -1;
  }
}

/* Returns 0 to go on, 1 after printing the help, -1 on a usage error. */
static int
parse_args (int argc, char **argv, struct verify_args *a)
{
  int r;

  *a = (struct verify_args) { .opts.timeout = DEFAULT_TIMEOUT };
  r = parse_options ("verify", argc, argv, long_options, usage_text,
                     verify_option, a);
  if (r != 0)
    return r;
  if (optind >= argc) {
    usage_error ("verify", "expected at least one DISK");
    return -1;
  }
  a->disks = argv + optind;
  a->ndisks = argc - optind;
  return 0;
}

static void
print_text (const struct vm *vm, const struct hv_verify_opts *o,
            const struct hv_verify_result *r)
{
  printf ("%s: %s after %.1f s (profile %s, accelerator %s)\n", vm->name,
          hv_verdict_name (r->verdict), r->seconds,
          hv_profile_name (o->profile), hv_accel_name (r->accel));
  printf ("  why: %s\n", r->why);
  if (r->report_json)
    printf ("  guest report: %s\n", r->report_json);
  else if (r->report_job)
    printf ("  report job: %s\n", r->report_job);
  if (r->console_log)
    printf ("  console log: %s\n", r->console_log);
  if (r->screenshot)
    printf ("  screenshot: %s\n", r->screenshot);
  if (r->verdict != HV_VERDICT_BOOTED && r->last_lines && *r->last_lines)
    printf ("  last console lines:\n%s%s", r->last_lines,
            r->last_lines[strlen (r->last_lines) - 1] == '\n' ? "" : "\n");
}

/* verdict.json in the log directory, beside the logs it points to. */
static void
save_json (const struct hv_verify_result *r, const char *json)
{
  CLEANUP_FREE char *path = NULL;
  int fd;

  if (asprintf (&path, "%s/verdict.json", r->log_dir) == -1)
    return;
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1 || full_write (fd, json, strlen (json)) == -1 ||
      full_write (fd, "\n", 1) == -1)
    hv_warning (HV_E_IO, "%s: %m", path);
  if (fd >= 0)
    close (fd);
}

static int
verify (const struct verify_args *a)
{
  struct vm *vm = machine_from_disks (a->disks, a->ndisks);
  struct hv_verify_result r;
  char *json;
  int status = HV_EXIT_FAILED;

  if (vm == NULL)
    return exit_status (-1);
  if (hv_verify (vm, &a->opts, &r) == 0) {
    json = hv_verify_json (vm, &a->opts, &r);
    if (json)
      save_json (&r, json);
    if (a->json && json)
      printf ("%s\n", json);
    else
      print_text (vm, &a->opts, &r);
    free (json);
    status = verdict_status[r.verdict];
  }
  else
    status = exit_status (-1);
  hv_verify_result_free (&r);
  vm_free (vm);
  return status;
}

int
cmd_verify (int argc, char **argv)
{
  struct verify_args a;
  int r = parse_args (argc, argv, &a);

  if (r == 1)
    return HV_EXIT_OK;
  if (r == -1)
    return HV_EXIT_USAGE;
  return verify (&a);
}
