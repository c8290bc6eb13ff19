/* hvconvert run: boot a machine for a person.  COM1 and the QEMU monitor
 * on the terminal (Ctrl-A X quits, Ctrl-A C switches to the monitor),
 * optionally a VNC display on localhost; writes go to throw-away
 * overlays unless --writable.
 */
#include <config.h>

#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hypervisor.h"
#include "importers.h"

struct drives {
  struct string_vector files, formats;
};

static void
drives_free (struct drives *d)
{
  for (size_t i = 0; i < d->files.len; i++) {
    free (d->files.ptr[i]);
    free (d->formats.ptr[i]);
  }
  free (d->files.ptr);
  free (d->formats.ptr);
}

/* Disk I as QEMU opens it: its overlay in WORK, or itself. */
static int
add_drive (struct drives *out, const struct vm_disk *d, size_t i,
           const char *work, bool writable)
{
  struct disk *disk = d->path ? importer_open (d->path, d->format, 0) : NULL;
  const char *format = disk ? hv_qemu_format (disk->ops->name) : NULL;
  char *file = NULL, *fmt = NULL;
  int r = -1;

  if (d->path == NULL)
    r = 0;
  else if (disk && writable) {
    file = strdup (d->path);
    fmt = strdup (format);
    r = file && fmt ? 0 : -1;
  }
  else if (disk && asprintf (&file, "%s/disk%zu.qcow2", work, i) != -1) {
    fmt = strdup ("qcow2");
    r = fmt ? hv_overlay_create (d->path, format, file) : -1;
  }
  disk_close (disk);
  if (string_vector_append (&out->files, file) == -1 ||
      string_vector_append (&out->formats, fmt) == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  return r;
}

static int
boot (const struct vm *vm, const struct hv_run_opts *o, const char *work,
      const struct drives *d)
{
  CLEANUP_FREE char *vars = NULL;
  const char *code, *tmpl;
  char *cp[] = { "cp", NULL, NULL, NULL };
  struct hv_machine m = {
    .profile = o->profile, .accel = hv_accelerator (), .vm = vm,
    .drives = d->files.ptr, .drive_formats = d->formats.ptr,
    .vnc = o->vnc ? "127.0.0.1:0,to=99" : NULL,
  };
  struct hv_argv a = { 0 };
  struct hv_spawn_io io = { 0, 1, 2 };
  int status = 0, r = -1;
  pid_t pid;

  if (o->profile == HV_PROFILE_GEN2 && hv_ovmf_paths (&code, &tmpl) == 0) {
    if (asprintf (&vars, "%s/OVMF_VARS.fd", work) == -1)
      return -1;
    cp[1] = (char *) tmpl;
    cp[2] = vars;
    if (hv_run (cp, 30, NULL) != 0)
      return -1;
    m.ovmf_vars = vars;
  }
  if (hv_machine_argv (&m, &a) == 0 && hv_spawn (a.v.ptr, &io, &pid) == 0) {
    fprintf (stderr, "%s: %s running (%s, %s); Ctrl-A X quits%s\n",
             hv_program_name, vm->name, hv_profile_name (o->profile),
             hv_accel_name (m.accel), o->vnc ? "; VNC on 127.0.0.1:5900 "
             "or the next free display" : "");
    /* Ctrl-C goes to the guest (the terminal is raw); a signal to us
     * only interrupts the wait, so wait again. */
    while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
      hv_interrupted = 0;
    r = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
  }
  hv_argv_free (&a);
  return r;
}

int
hv_run_vm (const struct vm *vm, const struct hv_run_opts *o)
{
  struct drives d = { 0 };
  char *work;
  int r = -1;

  if (hv_profile_check (o->profile, hv_accelerator ()) == -1 ||
      (work = hv_private_dir ("hvconvert-run")) == NULL)
    return -1;
  for (size_t i = 0; i < vm->disks.len; i++)
    if (add_drive (&d, &vm->disks.ptr[i], i, work, o->writable) == -1)
      goto out;
  r = boot (vm, o, work, &d);
 out:
  drives_free (&d);
  hv_remove_tree (work);
  free (work);
  return r;
}
