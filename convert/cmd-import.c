/* hvconvert import SRC... -o OUTDIR: a whole machine.
 *
 * The description (.vmc, or bare disks) is read into the VM model by
 * importers/machines.c; the policy questions a machine raises (a saved
 * memory state, uncommitted undo disks) are answered here, from the
 * options; then every hard disk is converted into OUTDIR/NAME/NAME-diskN.vhd
 * and the definitions are written beside them (NAME.json).  Everything
 * goes into a temporary directory renamed into place at the end
 * (outdir.c): the original files are only ever read.
 */
#include <config.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>

#include "convert.h"
#include "injectors.h"
#include "hypervisor.h"
#include "importers.h"
#include "vhd.h"

static const char usage_text[] =
  "Usage: hvconvert import [OPTIONS] SRC... -o OUTDIR\n"
  "Convert a whole machine into OUTDIR/NAME/: its disks as VHDs and its\n"
  "definition.  SRC is a Virtual PC machine (.vmc), a VMware machine (.vmx),\n"
  "an OVF descriptor or OVA package, or 1 to 4 disk images or block\n"
  "devices (a default machine around them).\n"
  "\n"
  "  -o, --output OUTDIR    where to write the machine (required)\n"
  "  --name NAME            the machine's name (default: from SRC)\n"
  "  --type dynamic|fixed   VHD type (default: dynamic)\n"
  "  --source-format FORMAT vmc, vmx, ovf, ova or disk (default: detect)\n"
  "  --discard-saved-state  convert a machine that has a saved state\n"
  "  --undo-disks ACTION    refuse (default), commit or discard\n"
  "  --allow-outside-paths  follow files named by SRC outside its folder\n"
  "  --inject               enlighten the guest (see hvconvert inject)\n"
  "  --verify               boot the result under QEMU and record the verdict\n"
  "  --force                replace OUTDIR/NAME if it exists\n"
  "  --no-sync              do not wait for the files to reach the disk\n"
  "                         (no fsync): faster, not crash-safe\n"
  "  -v, --verbose          debug messages\n"
  "  --machine-readable[=FD]  JSON events on FD (default: stdout)\n"
  "  -h, --help             this help\n";

enum undo_action { UNDO_REFUSE, UNDO_COMMIT, UNDO_DISCARD };

struct import_args {
  char **srcs;
  size_t nsrcs;
  const char *outdir, *name, *source_format;
  enum vhd_type type;
  enum undo_action undo;
  bool discard_saved_state, inject, verify;
  unsigned open_flags;          /* IMPORTER_* */
  unsigned output_flags;        /* OUTPUT_* */
};

enum {
  OPT_NAME = OPT_SUBCOMMAND_FIRST, OPT_TYPE, OPT_SOURCE_FORMAT,
  OPT_DISCARD_SAVED_STATE, OPT_UNDO_DISKS, OPT_ALLOW_OUTSIDE, OPT_INJECT,
  OPT_VERIFY, OPT_FORCE, OPT_NO_SYNC,
};

static const struct option long_options[] = {
  { "output", required_argument, NULL, 'o' },
  { "name", required_argument, NULL, OPT_NAME },
  { "type", required_argument, NULL, OPT_TYPE },
  { "source-format", required_argument, NULL, OPT_SOURCE_FORMAT },
  { "discard-saved-state", no_argument, NULL, OPT_DISCARD_SAVED_STATE },
  { "undo-disks", required_argument, NULL, OPT_UNDO_DISKS },
  { "allow-outside-paths", no_argument, NULL, OPT_ALLOW_OUTSIDE },
  { "inject", no_argument, NULL, OPT_INJECT },
  { "verify", no_argument, NULL, OPT_VERIFY },
  { "force", no_argument, NULL, OPT_FORCE },
  { "no-sync", no_argument, NULL, OPT_NO_SYNC },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

static const char *const type_names[] = { "dynamic", "fixed", NULL };
static const enum vhd_type type_values[] = {
  VHD_TYPE_DYNAMIC, VHD_TYPE_FIXED,
};
static const char *const undo_names[] = {
  "refuse", "commit", "discard", NULL,
};

/* ---------------------------------------------------------------- */
/* The command line. */

static int
import_option (struct import_args *a, int c, const char *arg)
{
  int i;

  switch (c) {
  case 'o': a->outdir = arg; return 0;
  case OPT_NAME: a->name = arg; return 0;
  case OPT_SOURCE_FORMAT: a->source_format = arg; return 0;
  case OPT_DISCARD_SAVED_STATE: a->discard_saved_state = true; return 0;
  case OPT_ALLOW_OUTSIDE: a->open_flags |= IMPORTER_ALLOW_OUTSIDE; return 0;
  case OPT_INJECT: a->inject = true; return 0;
  case OPT_VERIFY: a->verify = true; return 0;
  case OPT_FORCE: a->output_flags |= OUTPUT_FORCE; return 0;
  case OPT_NO_SYNC: a->output_flags |= OUTPUT_NO_SYNC; return 0;
  case OPT_TYPE:
    if ((i = option_keyword ("type", arg, type_names)) == -1)
      return -1;
    a->type = type_values[i];
    return 0;
  case OPT_UNDO_DISKS:
    if ((i = option_keyword ("undo-disks", arg, undo_names)) == -1)
      return -1;
    a->undo = (enum undo_action) i;
    return 0;
  default:
    usage_error ("import", "unexpected option");
    return -1;
  }
}

/* A name becomes file names: no '/', no leading '.', not empty. */
static int
check_name (const char *name)
{
  if (*name == '\0' || *name == '.' || strchr (name, '/') ||
      strlen (name) > 200) {
    usage_error ("import", "--name '%s': a machine name must be 1 to 200 "
                 "characters, without '/' and not starting with '.'", name);
    return -1;
  }
  return 0;
}

static int
check_args (struct import_args *a, int nargs, char **args)
{
  if (nargs < 1) {
    usage_error ("import", "no SRC given");
    return -1;
  }
  if (a->outdir == NULL) {
    usage_error ("import", "-o OUTDIR is required");
    return -1;
  }
  if (a->name && check_name (a->name) == -1)
    return -1;
  a->srcs = args;
  a->nsrcs = nargs;
  return 0;
}

/* Returns 0 to go on, 1 after printing the help, -1 on a usage error. */
static int
parse_args (int argc, char **argv, struct import_args *a)
{
  int c, r;

  *a = (struct import_args) { .type = VHD_TYPE_DYNAMIC };
  optind = 0;
  opterr = 0;
  while ((c = getopt_long (argc, argv, COMMON_SHORT_OPTIONS "o:",
                           long_options, NULL)) != -1) {
    if (c == 'h') {
      fputs (usage_text, stdout);
      return 1;
    }
    r = common_option ("import", c, argv);
    if (r == -1 || (r == 0 && import_option (a, c, optarg) == -1))
      return -1;
  }
  return check_args (a, argc - optind, argv + optind);
}

/* ---------------------------------------------------------------- */
/* The machine. */

/* One description, or several bare disks. */
static struct vm *
load_machine (const struct import_args *a)
{
  struct vm *vm;

  if (a->nsrcs == 1)
    vm = importer_load_vm (a->srcs[0], a->source_format, a->open_flags);
  else if (a->source_format && strcmp (a->source_format, "disk") != 0) {
    usage_error ("import", "only disks (not a %s) come as several SRC",
                 a->source_format);
    return NULL;
  }
  else
    vm = vm_from_disks (a->srcs, a->nsrcs);
  if (vm && a->name) {
    free (vm->name);
    if ((vm->name = strdup (a->name)) == NULL) {
      hv_error (HV_E_NOMEM, "%m");
      vm_free (vm);
      return NULL;
    }
  }
  return vm;
}

/* A saved state holds the memory of a running machine, which cannot be
 * carried to another hypervisor: refuse unless told to drop it. */
static int
check_saved_state (const struct import_args *a, struct vm *vm)
{
  if (vm->saved_state == NULL)
    return 0;
  if (a->discard_saved_state) {
    vm_warn (vm, HV_E_UNSUPPORTED, "%s: saved state %s discarded: the "
             "guest will start as after a power failure", vm->source,
             vm->saved_state);
    return 0;
  }
  hv_error (HV_E_UNSUPPORTED, "%s: the machine has a saved state (%s); its "
            "memory cannot be carried over to another hypervisor.  Start "
            "it and shut it down in Virtual PC first, or use "
            "--discard-saved-state to convert the disks as they are (the "
            "guest then starts as after a power failure)", vm->source,
            vm->saved_state);
  return -1;
}

/* Do A and B name the same image: the same file (whatever the path
 * says), or the same name in an archive? */
static bool
same_image (const char *a, const char *b)
{
  struct stat sa, sb;

  if (stat (a, &sa) == 0 && stat (b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  return strcmp (a, b) == 0;
}

/* The same image as two drives would be converted twice and written by
 * two machines' worth of guests: a description error. */
static int
check_duplicates (struct vm *vm)
{
  for (size_t i = 0; i < vm->disks.len; i++)
    for (size_t j = 0; j < i; j++) {
      const struct vm_disk *a = &vm->disks.ptr[i], *b = &vm->disks.ptr[j];
      if (a->media == VM_MEDIA_DISK && b->media == VM_MEDIA_DISK &&
          a->path && b->path && same_image (a->path, b->path)) {
        hv_error (HV_E_FORMAT, "%s: disk %s is attached twice (%s %u:%u "
                  "and %s %u:%u)", vm->source, a->path, vm_bus_name (b->bus),
                  b->controller, b->slot, vm_bus_name (a->bus),
                  a->controller, a->slot);
        return -1;
      }
    }
  return 0;
}

/* Undo disks hold changes not yet committed to their disks. */
static int
check_undo (const struct import_args *a, struct vm *vm)
{
  int refused = 0;

  for (size_t i = 0; i < vm->disks.len; i++) {
    struct vm_disk *d = &vm->disks.ptr[i];
    if (d->undo == NULL)
      continue;
    if (a->undo == UNDO_REFUSE) {
      hv_error (HV_E_UNSUPPORTED, "%s: undo disk %s holds changes not "
                "committed to %s; use --undo-disks=commit to convert the "
                "disk with them or --undo-disks=discard without them (the "
                "original files are not changed either way)", vm->source,
                d->undo, d->path);
      refused = -1;
    }
    else
      vm_warn (vm, HV_E_FORMAT, "%s: undo disk %s %s", vm->source, d->undo,
               a->undo == UNDO_COMMIT ? "committed into the converted disk"
               : "discarded");
  }
  return refused;
}

/* The SHA-256 of a description file (small: cheap), as hex in OUT.
 * False for an archive or a disk, which are not hashed here. */
static bool
description_sha256 (const struct vm *vm, char out[65])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  char *buf;
  size_t n;
  bool ok;

  if (strcmp (vm->source_format, "disk") == 0 ||
      strcmp (vm->source_format, "ova") == 0 ||
      importer_read_file (vm->source, 16 * MiB, &buf, &n) == -1)
    return false;
  ok = EVP_Digest (buf, n, md, &len, EVP_sha256 (), NULL) == 1;
  for (unsigned i = 0; ok && i < len; i++)
    snprintf (out + 2 * i, 3, "%02x", md[i]);
  free (buf);
  return ok;
}

static char *
make_report (const struct vm *vm, const char *disks, const char *inject,
             const char *verify)
{
  struct json *j = json_new (NULL);
  char sha[65];

  json_str (j, "hvconvert_version", PACKAGE_VERSION);
  json_str_or_null (j, "source_sha256",
                    description_sha256 (vm, sha) ? sha : NULL);
  json_raw (j, "disks", disks);
  json_raw (j, "inject", inject);
  json_raw (j, "verify", verify);
  return json_end (j);
}

/* One definition file, NAME.EXT, from TEXT (freed). */
static int
write_one (const struct outdir *o, const struct vm *vm, const char *ext,
           char *text)
{
  char file[256 + 16];
  int r = -1;

  snprintf (file, sizeof file, "%s.%s", vm->name, ext);
  if (text)
    r = outdir_write (o, file, text);
  free (text);
  return r;
}

/* NAME.json, .ps1, .xml and .ovf.  The libvirt domain names the disks
 * by absolute path, in the folder they will have after the rename. */
static int
write_definitions (const struct import_args *a, const struct outdir *o,
                   const struct vm *vm, const char *disks, const char *inject,
                   const char *verify)
{
  char *report = make_report (vm, disks, inject, verify), *json;
  char *dir = NULL;
  char *parent;
  int r = -1;

  json = report ? vm_json (vm, report) : NULL;
  parent = realpath (a->outdir, NULL);
  if (parent == NULL || asprintf (&dir, "%s/%s", parent, vm->name) == -1) {
    hv_error (HV_E_IO, "%s: %m", a->outdir);
    dir = NULL;
  }
  if (dir && write_one (o, vm, "json", json) == 0 &&
      write_one (o, vm, "ps1", vm_ps1 (vm)) == 0 &&
      write_one (o, vm, "xml", vm_libvirt_xml (vm, dir)) == 0 &&
      write_one (o, vm, "ovf", vm_ovf (vm, dir)) == 0)
    r = 0;
  else if (dir == NULL)
    free (json);
  free (report);
  free (parent);
  free (dir);
  return r;
}

/* --verify: boot the converted disks (still in the temporary directory;
 * verification boots on overlays, so they are not changed) with the
 * profile of the model's generation.  Returns the verdict as JSON for
 * the report (NULL if it could not run, after reporting) and sets
 * *STATUS to the verdict's exit status. */
static char *
verify_machine (const struct outdir *o, struct vm *vm, int *status)
{
  const struct hv_verify_opts opts = {
    .profile = vm->firmware == VM_FIRMWARE_UEFI ? HV_PROFILE_GEN2
      : HV_PROFILE_GEN1,
    .timeout = 300.0,
  };
  struct hv_verify_result r = { 0 };
  char **saved = calloc (vm->disks.len + 1, sizeof *saved), *json = NULL;

  for (size_t i = 0; saved && i < vm->disks.len; i++) {
    struct vm_disk *d = &vm->disks.ptr[i];
    saved[i] = d->path;
    if (d->media == VM_MEDIA_DISK && d->output)
      d->path = outdir_path (o, d->output);
  }
  if (saved && hv_verify (vm, &opts, &r) == 0) {
    json = hv_verify_json (vm, &opts, &r);
    *status = verify_exit_status (r.verdict);
    fprintf (stderr, "%s: verify: %s%s%s\n", hv_program_name,
             hv_verdict_name (r.verdict), r.why ? ": " : "",
             r.why ? r.why : "");
  }
  for (size_t i = 0; saved && i < vm->disks.len; i++) {
    struct vm_disk *d = &vm->disks.ptr[i];
    if (d->path != saved[i])
      free (d->path);
    d->path = saved[i];
  }
  hv_verify_result_free (&r);
  free (saved);
  return json;
}

/* --inject: enlighten the guest on the converted disks (still in the
 * temporary directory, so a failure leaves nothing that looks
 * finished), for the generation of the model.  Returns the result as
 * JSON for the report, NULL after reporting. */
static char *
inject_machine (const struct outdir *o, const struct vm *vm)
{
  const struct inj_opts opts = {
    .profile = vm->firmware == VM_FIRMWARE_UEFI ? INJ_GEN2 : INJ_GEN1,
  };
  char **paths = calloc (vm->disks.len + 1, sizeof *paths), *json = NULL;
  size_t n = 0;

  for (size_t i = 0; paths && i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    if (d->media == VM_MEDIA_DISK && d->output &&
        (paths[n] = outdir_path (o, d->output)) != NULL)
      n++;
  }
  if (paths == NULL)
    hv_error (HV_E_NOMEM, "out of memory");
  else if (n == 0)
    hv_error (HV_E_USAGE, "--inject: the machine has no disk to enlighten");
  else if (inject_disks (paths, n, &opts, true, &json) == 0)
    fprintf (stderr, "%s: inject: done (the plan is in the report)\n",
             hv_program_name);
  for (size_t i = 0; paths && i < n; i++)
    free (paths[i]);
  free (paths);
  return json;
}

/* 0, or with --verify the verdict's exit status; -1 on failure. */
static int
import_machine (const struct import_args *a, struct vm *vm)
{
  const struct import_opts io = {
    .type = a->type, .open_flags = a->open_flags,
    .commit_undo = a->undo == UNDO_COMMIT,
  };
  struct outdir o;
  char *disks = NULL, *verdict = NULL, *injected = NULL;
  int r = -1, status = 0;

  if (check_name (vm->name) == 0 &&
      outdir_begin (&o, a->outdir, vm->name, a->output_flags) == 0 &&
      (disks = import_disks (&io, &o, vm)) != NULL &&
      (!a->inject || (injected = inject_machine (&o, vm)) != NULL) &&
      (!a->verify || (verdict = verify_machine (&o, vm, &status)) != NULL) &&
      write_definitions (a, &o, vm, disks, injected, verdict) == 0 &&
      outdir_commit (&o) == 0)
    r = status;
  if (r >= 0 && !events_enabled ())
    fprintf (stderr, "%s: %s -> %s/%s\n", hv_program_name, vm->source,
             a->outdir, vm->name);
  outdir_end (&o);
  free (disks);
  free (injected);
  free (verdict);
  return r;
}

static int
import (const struct import_args *a)
{
  struct vm *vm = load_machine (a);
  int r = -1;

  if (vm && check_duplicates (vm) == 0 && check_saved_state (a, vm) == 0 &&
      check_undo (a, vm) == 0) {
    vm_place_for_hyperv (vm);
    r = import_machine (a, vm);
  }
  vm_free (vm);
  return r;
}

int
cmd_import (int argc, char **argv)
{
  struct import_args a;
  int r = parse_args (argc, argv, &a);

  if (r == 1)
    return HV_EXIT_OK;
  if (r == -1)
    return exit_status (-1);
  r = import (&a);
  return r > 0 ? r : exit_status (r);
}
