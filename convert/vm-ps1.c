/* NAME.ps1: a PowerShell script that registers the machine on a Hyper-V
 * host with the Hyper-V module's cmdlets.
 *
 * Run from the machine's folder (the disks are found next to the
 * script).  Strings are single-quoted with quotes doubled, the one
 * PowerShell quoting with no expansion, so no name or path from the
 * source can inject code.
 */
#include <config.h>

#include <ctype.h>
#include <stdio.h>

#include "convert.h"

/* 'S' with ' doubled, and control characters as '?' so that a quoted
 * string in a comment cannot end the comment's line. */
static void
quote (FILE *f, const char *s)
{
  fputc ('\'', f);
  for (; *s; s++) {
    if (*s == '\'')
      fputc ('\'', f);
    fputc ((unsigned char) *s < 0x20 ? '?' : *s, f);
  }
  fputc ('\'', f);
}

static void
header (FILE *f, const struct vm *vm)
{
  fprintf (f, "# Registers the machine '%s' on this Hyper-V host.\n"
           "# Made by hvconvert %s from a %s description.\n"
           "# Run it from its folder:  .\\%s.ps1 [-Path D:\\VMs] "
           "[-SwitchName NAME]\n"
           "param (\n"
           "  [string] $Path = $PSScriptRoot,\n"
           "  [string] $SwitchName = ''\n"
           ")\n"
           "$ErrorActionPreference = 'Stop'\n\n", vm->name, PACKAGE_VERSION,
           vm->source_format, vm->name);
}

static void
machine (FILE *f, const struct vm *vm)
{
  const unsigned gen = vm->firmware == VM_FIRMWARE_UEFI ? 2 : 1;

  fputs ("$vm = New-VM -Name ", f);
  quote (f, vm->name);
  fprintf (f, " -Generation %u -MemoryStartupBytes %llu -NoVHD -Path $Path\n",
           gen, (unsigned long long) vm->memory);
  /* New-VM adds a synthetic adapter; the source's NICs replace it. */
  fputs ("Get-VMNetworkAdapter -VM $vm | Remove-VMNetworkAdapter\n", f);
  fprintf (f, "Set-VMProcessor -VM $vm -Count %u\n", vm->vcpus);
  fprintf (f, "Set-VMMemory -VM $vm -DynamicMemoryEnabled $false "
           "-StartupBytes %llu\n", (unsigned long long) vm->memory);
  if (gen == 2)
    fputs ("Set-VMFirmware -VM $vm -EnableSecureBoot Off\n", f);
  fputs ("Set-VM -VM $vm -AutomaticStartAction Nothing "
         "-AutomaticStopAction ShutDown\n", f);
}

static const char *
controller_type (const struct vm_disk *d)
{
  return d->bus == VM_BUS_IDE ? "IDE" : "SCSI";
}

static void
drive (FILE *f, const struct vm_disk *d)
{
  switch (d->media) {
  case VM_MEDIA_DISK:
    if (d->output == NULL)
      break;
    if (d->bus != VM_BUS_IDE && d->controller > 0)
      fprintf (f, "while ((Get-VMScsiController -VM $vm).Count -le %u) "
               "{ Add-VMScsiController -VM $vm }\n", d->controller);
    fprintf (f, "Add-VMHardDiskDrive -VM $vm -ControllerType %s "
             "-ControllerNumber %u -ControllerLocation %u -Path "
             "(Join-Path $PSScriptRoot ", controller_type (d), d->controller,
             d->slot);
    quote (f, d->output);
    fputs (")\n", f);
    break;
  case VM_MEDIA_CDROM:
    fprintf (f, "Add-VMDvdDrive -VM $vm -ControllerNumber %u "
             "-ControllerLocation %u", d->controller, d->slot);
    if (d->path) {
      fputs (" -Path ", f);
      quote (f, d->path);
    }
    fputs ("\n", f);
    break;
  case VM_MEDIA_FLOPPY:
    if (d->path) {
      fputs ("Set-VMFloppyDiskDrive -VM $vm -Path ", f);
      quote (f, d->path);
      fputs ("\n", f);
    }
    break;
  }
}

/* "0003FF1A2B3C" from "00:03:ff:1a:2b:3c", as Hyper-V wants it. */
static void
mac_arg (FILE *f, const char *mac)
{
  fputs (" -StaticMacAddress '", f);
  for (; *mac; mac++)
    if (*mac != ':')
      fputc (toupper ((unsigned char) *mac), f);
  fputs ("'", f);
}

static void
nic (FILE *f, const struct vm_nic *n, size_t i, bool gen2)
{
  fprintf (f, "$nic = Add-VMNetworkAdapter -VM $vm -Name "
           "'Network Adapter %zu' -Passthru", i + 1);
  if (!n->synthetic && !gen2)
    fputs (" -IsLegacy $true", f);
  if (n->mac)
    mac_arg (f, n->mac);
  fputs ("\nif ($SwitchName) { Connect-VMNetworkAdapter -VMNetworkAdapter "
         "$nic -SwitchName $SwitchName }", f);
  if (n->network) {
    fputs ("  # was on network ", f);
    quote (f, n->network);
  }
  fputs ("\n", f);
}

char *
vm_ps1 (const struct vm *vm)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&text, &len);

  if (f == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", vm->name);
    return NULL;
  }
  header (f, vm);
  machine (f, vm);
  for (size_t i = 0; i < vm->disks.len; i++)
    drive (f, &vm->disks.ptr[i]);
  for (size_t i = 0; i < vm->nics.len; i++)
    nic (f, &vm->nics.ptr[i], i, vm->firmware == VM_FIRMWARE_UEFI);
  fputs ("Write-Output \"Registered $($vm.Name) in $Path\"\n", f);
  if (fclose (f) != 0) {
    hv_error (HV_E_NOMEM, "%s: %m", vm->name);
    free (text);
    return NULL;
  }
  return text;
}
