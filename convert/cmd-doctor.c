/* hvconvert doctor: what this host offers hvconvert, each check with its
 * answer and why; exit 0 when hvconvert can work here (TCG counts). */
#include <config.h>

#include <stdio.h>

#include "convert.h"
#include "hypervisor.h"

static const char usage_text[] =
  "Usage: hvconvert doctor [OPTIONS]\n"
  "Check what this host offers hvconvert: the CPU, KVM (does it really run\n"
  "a guest?), QEMU, OVMF and libguestfs.\n"
  "\n"
  "  --json                 the checks as one JSON object on stdout\n"
  "  --full                 also launch the libguestfs appliance (slow)\n"
  "  --reprobe              probe KVM again and cache the new answer\n"
  "  --no-cache             probe KVM, neither reading nor writing the cache\n"
  "  -v, --verbose          debug messages\n"
  "  --machine-readable[=FD]  JSON events on FD (default: stdout)\n"
  "  -h, --help             this help\n";

enum {
  OPT_JSON = OPT_SUBCOMMAND_FIRST,
  OPT_FULL,
  OPT_REPROBE,
  OPT_NO_CACHE,
};

static const struct option long_options[] = {
  { "json", no_argument, NULL, OPT_JSON },
  { "full", no_argument, NULL, OPT_FULL },
  { "reprobe", no_argument, NULL, OPT_REPROBE },
  { "no-cache", no_argument, NULL, OPT_NO_CACHE },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

struct doctor_args {
  bool json;
  struct hv_doctor_opts opts;
};

static int
doctor_option (void *ctx, int c, const char *arg)
{
  struct doctor_args *a = ctx;

  switch (c) {
  case OPT_JSON: a->json = true; return 0;
  case OPT_FULL: a->opts.full = true; return 0;
  case OPT_REPROBE: hv_set_cache_mode (HV_CACHE_REPROBE); return 0;
  case OPT_NO_CACHE: hv_set_cache_mode (HV_CACHE_OFF); return 0;
  default: return -1;
  }
}

/* Returns 0 to go on, 1 after printing the help, -1 on a usage error. */
static int
parse_args (int argc, char **argv, struct doctor_args *a)
{
  int r = parse_options ("doctor", argc, argv, long_options, usage_text,
                         doctor_option, a);

  if (r == 0 && optind < argc) {
    usage_error ("doctor", "unexpected argument '%s'", argv[optind]);
    return -1;
  }
  return r;
}

static bool
usable (const struct hv_check_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    if (v->ptr[i].status == HV_CHECK_FAIL)
      return false;
  return true;
}

static void
print_text (const struct hv_check_vector *v)
{
  for (size_t i = 0; i < v->len; i++) {
    const struct hv_check *c = &v->ptr[i];
    printf ("%-4s  %s: %s\n      %s\n", hv_check_status_name (c->status),
            c->name, c->answer, c->why);
  }
  printf ("\n%s\n", usable (v) ? "hvconvert can verify machines on this "
          "host." : "hvconvert cannot verify machines on this host: see "
          "the failed checks.");
}

static int
print_json (const struct hv_check_vector *v)
{
  struct json *j = json_new (NULL);
  char *checks = NULL, *text;
  size_t len = 0;
  FILE *f = open_memstream (&checks, &len);

  if (f == NULL)
    return -1;
  fputc ('[', f);
  for (size_t i = 0; i < v->len; i++) {
    struct json *c = json_new (NULL);
    json_str (c, "name", v->ptr[i].name);
    json_str (c, "status", hv_check_status_name (v->ptr[i].status));
    json_str (c, "answer", v->ptr[i].answer);
    json_str (c, "why", v->ptr[i].why);
    text = json_end (c);
    fprintf (f, "%s%s", i ? "," : "", text ? text : "null");
    free (text);
  }
  fputc (']', f);
  fclose (f);
  json_bool (j, "usable", usable (v));
  json_str (j, "accelerator", hv_accel_name (hv_accelerator ()));
  json_raw (j, "checks", checks);
  free (checks);
  text = json_end (j);
  if (text == NULL)
    return -1;
  printf ("%s\n", text);
  free (text);
  return 0;
}

int
cmd_doctor (int argc, char **argv)
{
  struct doctor_args a = { 0 };
  struct hv_check_vector checks = { 0 };
  int r = parse_args (argc, argv, &a);

  if (r == 1)
    return HV_EXIT_OK;
  if (r == -1)
    return HV_EXIT_USAGE;
  r = hv_doctor (&a.opts, &checks);
  if (r == 0 && a.json)
    r = print_json (&checks);
  else if (r == 0)
    print_text (&checks);
  if (r == 0 && !usable (&checks))
    r = -1;
  hv_checks_free (&checks);
  return r == 0 ? HV_EXIT_OK : HV_EXIT_FAILED;
}
