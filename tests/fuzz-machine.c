/* libFuzzer targets for the machine description parsers: built three
 * times with FUZZ_FORMAT = vmc, vmx or ovf (make fuzz-vmc, fuzz-vmx,
 * fuzz-ovf).  Each input is written as the description file into a
 * private directory that also holds a 1 MiB raw disk, disk.img, which
 * the seeds name, so the fuzzer reaches the drive code; the loader runs
 * and the model, if any, is checked for what the writers rely on and
 * freed.  Linked with fuzz-replay.c it replays the committed corpora in
 * make check (test-import-fuzz-corpus.sh).
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>

#include "importers.h"

#define STR2(x) #x
#define STR(x) STR2 (x)
#define LOAD2(f) f##_load
#define LOAD(f) LOAD2 (f)

static char dir[] = "/tmp/fuzz-machine.XXXXXX";
static char input[64], disk[64];

static void
cleanup (void)
{
  unlink (input);
  unlink (disk);
  rmdir (dir);
}

static void
die (const char *what)
{
  dprintf (STDERR_FILENO, "fuzz-machine: %s\n", what);
  cleanup ();
  abort ();
}

/* Messages are expected for bad input; keep them off the terminal
 * unless FUZZ_VERBOSE is set (see fuzz-vhd.c). */
static void
quiet (void)
{
  FILE *null;

  if (getenv ("FUZZ_VERBOSE"))
    return;
  null = fopen ("/dev/null", "w");
  if (null)
    stderr = null;
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  int fd;

  if (mkdtemp (dir) == NULL)
    die ("cannot create a temporary directory");
  snprintf (input, sizeof input, "%s/input." STR (FUZZ_FORMAT), dir);
  snprintf (disk, sizeof disk, "%s/disk.img", dir);
  atexit (cleanup);
  fd = open (disk, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd == -1 || ftruncate (fd, MiB) == -1)
    die ("cannot create disk.img");
  close (fd);
  quiet ();
  return 0;
}

/* What the writers and the import command rely on. */
static void
check_model (const struct vm *vm)
{
  if (vm->name == NULL || vm->source == NULL || vm->vcpus == 0 ||
      vm->memory == 0)
    die ("a model without a name, source, vCPU or memory");
  for (size_t i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    if (d->media == VM_MEDIA_DISK && d->path == NULL &&
        strcmp (STR (FUZZ_FORMAT), "ovf") != 0)
      die ("a hard disk without a path");
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  int fd = open (input, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  struct vm *vm;

  if (fd == -1 || full_write (fd, data, size) == -1)
    die ("cannot write the input");
  close (fd);
  vm = LOAD (FUZZ_FORMAT) (input, 0);
  if (vm)
    check_model (vm);
  vm_free (vm);
  return 0;
}
