/* NAME.json: the VM model and the conversion report, for scripts.
 *
 * Field names are stable (documented in hvconvert-import(1)); a value
 * that is unknown is null, never an empty string.
 */
#include <config.h>

#include "convert.h"

/* Append the object text OBJ (freed; NULL: it failed) to the array
 * text *ARR of *LEN bytes.  -1 on failure. */
static int
array_add (char **arr, size_t *len, char *obj)
{
  size_t n = obj ? strlen (obj) : 0;
  char *p = obj ? realloc (*arr, *len + n + 3) : NULL;

  if (p) {
    p[*len] = *len ? ',' : '[';
    memcpy (p + *len + 1, obj, n);
    *len += n + 1;
    p[*len] = '\0';
    *arr = p;
  }
  free (obj);
  return p ? 0 : -1;
}

static char *
disk_json (const struct vm_disk *d)
{
  struct json *j = json_new (NULL);

  json_str (j, "media", vm_media_name (d->media));
  if (d->media != VM_MEDIA_FLOPPY) {
    json_str (j, "bus", vm_bus_name (d->bus));
    json_u64 (j, "controller", d->controller);
    json_u64 (j, "slot", d->slot);
  }
  json_str_or_null (j, "source", d->path);
  json_str_or_null (j, "format", d->format);
  json_str_or_null (j, "undo_disk", d->undo);
  json_str_or_null (j, "host_drive", d->host_drive);
  json_str_or_null (j, "output", d->output);
  return json_end (j);
}

static char *
nic_json (const struct vm_nic *n)
{
  struct json *j = json_new (NULL);

  json_str_or_null (j, "mac", n->mac);
  json_str_or_null (j, "network", n->network);
  json_str_or_null (j, "model", n->model);
  json_bool (j, "synthetic", n->synthetic);
  return json_end (j);
}

/* "[a,b]" from the objects, "[]" when there are none. */
static char *
array_end (char *arr, size_t len)
{
  char *p;

  if (arr == NULL)
    return strdup ("[]");
  p = realloc (arr, len + 2);
  if (p == NULL) {
    free (arr);
    return NULL;
  }
  p[len] = ']';
  p[len + 1] = '\0';
  return p;
}

static char *
disks_json (const struct vm *vm)
{
  char *arr = NULL;
  size_t len = 0;

  for (size_t i = 0; i < vm->disks.len; i++)
    if (array_add (&arr, &len, disk_json (&vm->disks.ptr[i])) == -1) {
      free (arr);
      return NULL;
    }
  return array_end (arr, len);
}

static char *
nics_json (const struct vm *vm)
{
  char *arr = NULL;
  size_t len = 0;

  for (size_t i = 0; i < vm->nics.len; i++)
    if (array_add (&arr, &len, nic_json (&vm->nics.ptr[i])) == -1) {
      free (arr);
      return NULL;
    }
  return array_end (arr, len);
}

char *
vm_json (const struct vm *vm, const char *report)
{
  struct json *j = json_new (NULL);
  char *disks = disks_json (vm), *nics = nics_json (vm), *text;

  json_str (j, "name", vm->name);
  json_u64 (j, "generation", vm->firmware == VM_FIRMWARE_UEFI ? 2 : 1);
  json_str (j, "firmware", vm->firmware == VM_FIRMWARE_UEFI ? "uefi"
            : "bios");
  json_u64 (j, "memory", vm->memory);
  json_u64 (j, "vcpus", vm->vcpus);
  json_str_or_null (j, "guest_os", vm->guest_os);
  json_str_or_null (j, "guest_tools", vm->guest_tools);
  json_str (j, "source", vm->source);
  json_str (j, "source_format", vm->source_format);
  json_str_or_null (j, "saved_state", vm->saved_state);
  json_raw (j, "disks", disks);
  json_raw (j, "nics", nics);
  json_str_array (j, "warnings", vm->warnings.ptr, vm->warnings.len);
  json_raw (j, "report", report);
  text = json_end (j);
  if (disks == NULL || nics == NULL) {
    free (text);
    text = NULL;
  }
  free (disks);
  free (nics);
  if (text == NULL)
    hv_error (HV_E_NOMEM, "%s: the VM description: %m", vm->name);
  return text;
}
