/* XML from hostile files: parsing and walking, for .vmc and OVF.
 *
 * libxml2 parses with network access off (XML_PARSE_NONET) and without
 * entity substitution or DTD loading, so no external entity is ever
 * fetched (XXE).  A document with a DOCTYPE is refused outright: neither
 * format has one, and without it there are no entity declarations, so
 * no "billion laughs" expansion can happen when text is read.  The file
 * is read whole, up to XML_MAX_FILE bytes.  libxml2 detects the
 * encoding from the BOM or the declaration (UTF-16LE .vmc files).
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "importers.h"

#define XML_MAX_FILE (16 * MiB)

/* Read all of FILENAME (a regular file of at most MAX bytes) into a
 * malloc'd buffer. */
int
importer_read_file (const char *filename, size_t max, char **buf,
                    size_t *len)
{
  struct stat st;
  int fd = open (filename, O_RDONLY | O_CLOEXEC);
  int r = -1;

  *buf = NULL;
  if (fd == -1 || fstat (fd, &st) == -1)
    hv_error (HV_E_IO, "%s: %m", filename);
  else if (!S_ISREG (st.st_mode))
    hv_error (HV_E_UNSUPPORTED, "%s: not a regular file", filename);
  else if ((uint64_t) st.st_size > max)
    hv_error (HV_E_TOO_LARGE, "%s: %" PRIu64 " bytes; a description file "
              "of more than %zu bytes is not believable", filename,
              (uint64_t) st.st_size, max);
  else if ((*buf = malloc (st.st_size + 1)) == NULL)
    hv_error (HV_E_NOMEM, "%s: %m", filename);
  else if (full_pread (fd, *buf, st.st_size, 0) == -1)
    hv_error (HV_E_IO, "%s: reading: %m", filename);
  else {
    (*buf)[st.st_size] = '\0';
    *len = st.st_size;
    r = 0;
  }
  if (r == -1) {
    free (*buf);
    *buf = NULL;
  }
  if (fd >= 0)
    close (fd);
  return r;
}

xmlDoc *
xml_parse (const char *filename, const char *buf, size_t len)
{
  xmlParserCtxt *ctxt = xmlNewParserCtxt ();
  xmlDoc *doc = NULL;
  const xmlError *e;

  if (ctxt == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", filename);
    return NULL;
  }
  if (len > INT_MAX) {
    hv_error (HV_E_TOO_LARGE, "%s: too large for XML", filename);
    xmlFreeParserCtxt (ctxt);
    return NULL;
  }
  doc = xmlCtxtReadMemory (ctxt, buf, (int) len, NULL, NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR |
                           XML_PARSE_NOWARNING);
  e = xmlCtxtGetLastError (ctxt);
  if (doc == NULL || !ctxt->wellFormed) {
    const char *m = e && e->message ? e->message : "parse error";
    hv_error (HV_E_FORMAT, "%s: line %d: not well-formed XML: %.*s",
              filename, e ? e->line : 0, (int) strcspn (m, "\n"), m);
    xmlFreeDoc (doc);
    doc = NULL;
  }
  else if (doc->intSubset || doc->extSubset) {
    hv_error (HV_E_UNSUPPORTED, "%s: has a DOCTYPE; refusing it (entity "
              "declarations could expand without bound)", filename);
    xmlFreeDoc (doc);
    doc = NULL;
  }
  else if (xmlDocGetRootElement (doc) == NULL) {
    hv_error (HV_E_FORMAT, "%s: no root element", filename);
    xmlFreeDoc (doc);
    doc = NULL;
  }
  xmlFreeParserCtxt (ctxt);
  return doc;
}

xmlDoc *
xml_read (const char *filename)
{
  char *buf;
  size_t len;
  xmlDoc *doc;

  if (importer_read_file (filename, XML_MAX_FILE, &buf, &len) == -1)
    return NULL;
  doc = xml_parse (filename, buf, len);
  free (buf);
  return doc;
}

/* The element's local name (the part after a namespace prefix). */
static bool
named (const xmlNode *n, const char *name)
{
  return n->type == XML_ELEMENT_NODE &&
    strcmp ((const char *) n->name, name) == 0;
}

xmlNode *
xml_child (const xmlNode *parent, const char *name)
{
  if (parent == NULL)
    return NULL;
  for (xmlNode *n = parent->children; n; n = n->next)
    if (named (n, name))
      return n;
  return NULL;
}

xmlNode *
xml_next (const xmlNode *after, const char *name)
{
  for (xmlNode *n = after ? after->next : NULL; n; n = n->next)
    if (named (n, name))
      return n;
  return NULL;
}

xmlNode *
xml_path (const xmlNode *n, const char *path)
{
  char part[64];

  while (n && *path) {
    size_t len = strcspn (path, "/");
    if (len >= sizeof part)
      return NULL;
    memcpy (part, path, len);
    part[len] = '\0';
    n = xml_child (n, part);
    path += len + (path[len] == '/');
  }
  return (xmlNode *) n;
}

char *
xml_text (const xmlNode *n)
{
  xmlChar *s = n ? xmlNodeGetContent (n) : NULL;
  char *r;

  if (s == NULL)
    return NULL;
  r = strdup ((const char *) s);
  xmlFree (s);
  /* Trim the white space a pretty-printed file puts around values. */
  if (r) {
    size_t b = strspn (r, " \t\r\n"), e = strlen (r);
    while (e > b && strchr (" \t\r\n", r[e - 1]))
      e--;
    memmove (r, r + b, e - b);
    r[e - b] = '\0';
  }
  return r;
}

char *
xml_attr (const xmlNode *n, const char *name)
{
  xmlChar *s;
  char *r;

  if (n == NULL)
    return NULL;
  /* Any namespace: OVF writers differ in which prefix they use. */
  for (xmlAttr *a = n->properties; a; a = a->next) {
    if (strcmp ((const char *) a->name, name) != 0)
      continue;
    s = xmlNodeGetContent ((xmlNode *) a);
    r = s ? strdup ((const char *) s) : NULL;
    xmlFree (s);
    return r;
  }
  return NULL;
}
