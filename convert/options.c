/* Command-line helpers shared by main() and every subcommand: the common
 * options, sizes and keywords, usage errors and exit statuses. */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "convert.h"

/* --machine-readable[=FD]: events on FD, standard output by default.
 * The descriptor must be open now, or every event would be lost. */
static int
machine_readable (const char *arg)
{
  char *end;
  long fd = STDOUT_FILENO;

  if (arg) {
    errno = 0;
    fd = strtol (arg, &end, 10);
    if (errno || end == arg || *end || fd < 0 || fd > INT32_MAX) {
      hv_error (HV_E_USAGE, "--machine-readable=%s: expected a file "
                "descriptor number", arg);
      return -1;
    }
  }
  if (fcntl ((int) fd, F_GETFD) == -1) {
    hv_error (HV_E_USAGE, "--machine-readable: file descriptor %ld is not "
              "open: %m", fd);
    return -1;
  }
  events_open ((int) fd);
  return 0;
}

static void
bad_option (const char *command, int c, char **argv)
{
  const char *opt = argv[optind - 1];

  if (c == ':')
    usage_error (command, "option '%s' requires an argument", opt);
  else if (optopt)
    usage_error (command, "unknown option '-%c'", optopt);
  else
    usage_error (command, "unknown option '%s'", opt);
}

int
common_option (const char *command, int c, char **argv)
{
  switch (c) {
  case 'v':
    hv_verbose = true;
    return 1;
  case OPT_MACHINE_READABLE:
    return machine_readable (optarg) == 0 ? 1 : -1;
  case '?':
  case ':':
    bad_option (command, c, argv);
    return -1;
  default:
    return 0;
  }
}

int
option_size (const char *opt, const char *arg, uint64_t *out)
{
  if (parse_size (arg, out) == -1) {
    hv_error (HV_E_USAGE, "--%s: '%s' is not a size (a number with an "
              "optional K, M, G or T suffix): %m", opt, arg);
    return -1;
  }
  return 0;
}

int
option_keyword (const char *opt, const char *arg,
                const char *const *keywords)
{
  char expected[256] = "";

  for (int i = 0; keywords[i]; i++) {
    if (strcmp (arg, keywords[i]) == 0)
      return i;
    if (i > 0)
      strncat (expected, "|", sizeof expected - strlen (expected) - 1);
    strncat (expected, keywords[i], sizeof expected - strlen (expected) - 1);
  }
  hv_error (HV_E_USAGE, "--%s: '%s': expected one of %s", opt, arg,
            expected);
  return -1;
}

/* Hyper-V creates VHDs with 512 KiB or 2 MiB blocks only; other powers
 * of two up to 256 MiB are valid VHDs that some readers may refuse, so
 * they are allowed with a warning.  Smaller blocks are refused: they buy
 * nothing and make the BAT huge. */
int
option_block_size (const char *arg, uint32_t *out)
{
  uint64_t n;

  if (option_size ("block-size", arg, &n) == -1)
    return -1;
  if (!IS_POWER_OF_2 (n) || n < 512 * KiB || n > 256 * MiB) {
    hv_error (HV_E_USAGE, "--block-size: %s is not a power of two from "
              "512K to 256M", arg);
    return -1;
  }
  if (n != 512 * KiB && n != 2 * MiB)
    hv_warning (HV_E_UNSUPPORTED, "--block-size %s: Hyper-V and Virtual PC "
                "use 512K or 2M; some readers may refuse other sizes", arg);
  *out = n;
  return 0;
}

void
usage_error (const char *command, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;

  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) == -1)
    msg = NULL;
  va_end (ap);
  hv_error (HV_E_USAGE, "%s%s%s", command ? command : "",
            command ? ": " : "", msg ? msg : fmt);
  fprintf (stderr, "Try '%s%s%s --help'.\n", hv_program_name,
           command ? " " : "", command ? command : "");
  free (msg);
}

int
exit_status (int r)
{
  if (r == 0)
    return HV_EXIT_OK;
  switch (hv_last_error_code ()) {
  case HV_E_USAGE:
    return HV_EXIT_USAGE;
  case HV_E_CHECK:
    return HV_EXIT_CHECK;
  default:
    return HV_EXIT_FAILED;
  }
}

/* Operands left after the options: exactly NARGS of them. */
static int
operands (const char *cmd, int argc, char **argv, int nargs,
          const char *names, char **args)
{
  if (argc - optind != nargs) {
    usage_error (cmd, "expected %s, got %d argument%s", names,
                 argc - optind, argc - optind == 1 ? "" : "s");
    return -1;
  }
  for (int i = 0; i < nargs; i++)
    args[i] = argv[optind + i];
  return 0;
}

int
parse_command (const struct command_line *cl, int argc, char **argv,
               void *ctx, char **args)
{
  int c, r;

  opterr = 0;
  optind = 0;                   /* glibc: restart the scan */
  while ((c = getopt_long (argc, argv, COMMON_SHORT_OPTIONS, cl->options,
                           NULL)) != -1) {
    if (c == 'h') {
      fputs (cl->usage, stdout);
      return 1;
    }
    r = common_option (cl->name, c, argv);
    if (r == -1 || (r == 0 && cl->option (ctx, c, optarg) == -1))
      return -1;
  }
  return operands (cl->name, argc, argv, cl->nargs, cl->operands, args);
}

int
parse_options (const char *command, int argc, char **argv,
               const struct option *long_options, const char *usage,
               int (*own) (void *ctx, int c, const char *arg), void *ctx)
{
  int c, r;

  optind = 0;                   /* glibc: restart the scan */
  opterr = 0;
  while ((c = getopt_long (argc, argv, COMMON_SHORT_OPTIONS, long_options,
                           NULL)) != -1) {
    if (c == 'h') {
      fputs (usage, stdout);
      return 1;
    }
    r = common_option (command, c, argv);
    if (r == -1 || (r == 0 && own (ctx, c, optarg) == -1))
      return -1;
  }
  return 0;
}
