/* hvconvert inject DISK...: enlighten the guest on the disks offline, so
 * that its first boot on Hyper-V-style hardware already has the VMBus
 * drivers and finds its disks.
 *
 * Inspect (libguestfs), plan (the injector of the guest's OS), print the
 * plan, and unless --dry-run apply it on overlays and commit them into
 * the disks.  The work is in injectors/; this file is the command line,
 * the output, and the hook import --inject calls (inject_disks).
 */
#include <config.h>

#include <stdio.h>

#include "convert.h"
#include "injectors.h"

static const char usage_text[] =
  "Usage: hvconvert inject [OPTIONS] DISK...\n"
  "Put the Hyper-V (VMBus) drivers of the guest on DISK... in place before\n"
  "its first boot, fix device names, disable other hypervisors' tools.\n"
  "\n"
  "  --dry-run              print the plan, change nothing\n"
  "  --profile gen1|gen2    the target hardware (default: gen1)\n"
  "  --root DEVICE          the operating system to change when the disks\n"
  "                         hold several (as inspection names it)\n"
  "  --initramfs append|rebuild  how a Linux initramfs gets the drivers:\n"
  "                         hvconvert appends them on the host (default),\n"
  "                         or the guest's own tool rebuilds it (slow)\n"
  "  --drivers-iso PATH     the Integration Services ISO (Windows XP/2003)\n"
  "  --json                 the plan as one JSON object on stdout\n"
  "  -v, --verbose          debug messages\n"
  "  --machine-readable[=FD]  JSON events on FD (default: stdout)\n"
  "  -h, --help             this help\n";

enum {
  OPT_DRY_RUN = OPT_SUBCOMMAND_FIRST,
  OPT_PROFILE,
  OPT_ROOT,
  OPT_INITRAMFS,
  OPT_DRIVERS_ISO,
  OPT_JSON,
};

static const struct option long_options[] = {
  { "dry-run", no_argument, NULL, OPT_DRY_RUN },
  { "profile", required_argument, NULL, OPT_PROFILE },
  { "root", required_argument, NULL, OPT_ROOT },
  { "initramfs", required_argument, NULL, OPT_INITRAMFS },
  { "drivers-iso", required_argument, NULL, OPT_DRIVERS_ISO },
  { "json", no_argument, NULL, OPT_JSON },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

static const char *const profiles[] = { "gen1", "gen2", NULL };
static const char *const initramfs_modes[] = { "append", "rebuild", NULL };

struct inject_args {
  struct inj_opts opts;
  bool json;
  char **disks;
  size_t ndisks;
};

static int
keyword (const char *opt, const char *arg, const char *const *names, int *out)
{
  int i = option_keyword (opt, arg, names);

  if (i == -1)
    return -1;
  *out = i;
  return 0;
}

static int
inject_option (void *ctx, int c, const char *arg)
{
  struct inject_args *a = ctx;
  int v;

  switch (c) {
  case OPT_DRY_RUN: a->opts.dry_run = true; return 0;
  case OPT_PROFILE:
    if (keyword ("profile", arg, profiles, &v) == -1)
      return -1;
    a->opts.profile = v;
    return 0;
  case OPT_INITRAMFS:
    if (keyword ("initramfs", arg, initramfs_modes, &v) == -1)
      return -1;
    a->opts.initramfs = v;
    return 0;
  case OPT_ROOT: a->opts.root = arg; return 0;
  case OPT_DRIVERS_ISO: a->opts.drivers_iso = arg; return 0;
  case OPT_JSON: a->json = true; return 0;
  default:
    usage_error ("inject", "unexpected option");
    return -1;
  }
}

static int
parse_args (int argc, char **argv, struct inject_args *a)
{
  int r;

  *a = (struct inject_args) { .opts.profile = INJ_GEN1 };
  r = parse_options ("inject", argc, argv, long_options, usage_text,
                     inject_option, a);
  if (r != 0)
    return r;
  if (optind >= argc) {
    usage_error ("inject", "expected at least one DISK");
    return -1;
  }
  a->disks = argv + optind;
  a->ndisks = argc - optind;
  return 0;
}

/* The injector for the guest's OS; -1 after reporting for one we do
 * not enlighten. */
static int
plan_for (struct inj_guest *g, const struct inj_opts *o, struct inj_plan *p)
{
  if (strcmp (g->type, "linux") == 0)
    return inject_linux (g, o, p);
  if (strcmp (g->type, "windows") == 0)
    return inject_windows (g, o, p);
  hv_error (HV_E_UNSUPPORTED, "%s: a %s guest (%s): inject enlightens Linux "
            "and Windows guests", g->root, g->type, g->product);
  return -1;
}

static void
print_guest (const struct inj_guest *g, const char *disk)
{
  char label[256];

  inj_guest_label (g, label, sizeof label);
  printf ("%s: %s (%s %s %d.%d, %s), root %s\n", disk, label, g->type,
          g->distro, g->major, g->minor, g->arch, g->root);
}

/* The event (and the JSON printed by --json) of one run. */
static char *
result_json (const struct inj_guest *g, const struct inj_plan *p,
             bool dry_run, bool applied)
{
  CLEANUP_FREE char *plan = plan_json (p);
  struct json *j = json_new (NULL);

  json_str (j, "root", g->root);
  json_str (j, "type", g->type);
  json_str (j, "distro", g->distro);
  json_str (j, "product", g->product);
  json_u64 (j, "major", (uint64_t) (g->major < 0 ? 0 : g->major));
  json_u64 (j, "minor", (uint64_t) (g->minor < 0 ? 0 : g->minor));
  json_str (j, "arch", g->arch);
  json_bool (j, "dry_run", dry_run);
  json_bool (j, "applied", applied);
  json_raw (j, "plan", plan);
  return json_end (j);
}

int
inject_disks (char *const *disks, size_t n, const struct inj_opts *o,
              bool quiet, char **json_out)
{
  struct inj_session *s = inj_session_open (disks, n, o);
  struct inj_plan plan = { 0 };
  struct inj_guest *g;
  bool applied = false;
  int r = -1;

  if (s == NULL)
    return -1;
  g = inj_session_guest (s);
  if (plan_for (g, o, &plan) == -1 || plan.nomem)
    goto out;
  if (!quiet) {
    print_guest (g, disks[0]);
    printf (o->dry_run ? "Plan (dry run, nothing is changed):\n" : "Plan:\n");
    plan_print (&plan, stdout);
  }
  if (!o->dry_run && plan.steps.len > 0) {
    if (inj_session_apply (s, &plan) == -1)
      goto out;
    applied = true;
    if (!quiet)
      printf ("%s: %zu change%s applied\n", disks[0], plan.steps.len,
              plan.steps.len == 1 ? "" : "s");
  }
  r = 0;
  if (json_out && (*json_out = result_json (g, &plan, o->dry_run, applied))
      == NULL) {
    hv_error (HV_E_NOMEM, "out of memory");
    r = -1;
  }
 out:
  plan_free (&plan);
  inj_session_close (s);
  return r;
}

int
cmd_inject (int argc, char **argv)
{
  struct inject_args a;
  CLEANUP_FREE char *json = NULL;
  int r = parse_args (argc, argv, &a);

  if (r == 1)
    return HV_EXIT_OK;
  if (r == -1)
    return HV_EXIT_USAGE;
  if (inject_disks (a.disks, a.ndisks, &a.opts, a.json, &json) == -1)
    return exit_status (-1);
  if (a.json)
    printf ("%s\n", json);
  if (events_enabled ()) {
    struct json *j = json_new ("inject");
    json_raw (j, "result", json);
    json_emit (j);
  }
  return HV_EXIT_OK;
}
