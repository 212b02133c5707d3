/* Decoding of the launch plan and look-ups in it. */
#include "init.h"

#include <stdlib.h>
#include <string.h>
#include <errno.h>

static uint32_t get_u32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] | ((uint32_t)u[1] << 8) | ((uint32_t)u[2] << 16) | ((uint32_t)u[3] << 24);
}

int plan_decode(const char *buf, size_t len, struct plan *out) {
  size_t off = 0;
  int cap = 64;
  out->nrecords = 0;
  out->records = calloc(cap, sizeof(struct record));
  if (!out->records) return -1;
  while (off < len) {
    if (len - off < 4) return -1;
    uint32_t n = get_u32(buf + off);
    off += 4;
    if (n == 0 || n > 1u << 20) return -1;
    if (out->nrecords == cap) {
      cap *= 2;
      struct record *r = realloc(out->records, cap * sizeof(struct record));
      if (!r) return -1;
      out->records = r;
    }
    struct record *rec = &out->records[out->nrecords++];
    rec->nfields = (int)n;
    rec->fields = calloc(n + 1, sizeof(char *));
    if (!rec->fields) return -1;
    for (uint32_t i = 0; i < n; i++) {
      if (len - off < 4) return -1;
      uint32_t flen = get_u32(buf + off);
      off += 4;
      if (flen > len - off) return -1;
      rec->fields[i] = malloc(flen + 1);
      if (!rec->fields[i]) return -1;
      memcpy(rec->fields[i], buf + off, flen);
      rec->fields[i][flen] = 0;
      off += flen;
    }
  }
  return 0;
}

const struct record *plan_find(const struct plan *p, const char *tag) {
  for (int i = 0; i < p->nrecords; i++)
    if (strcmp(p->records[i].fields[0], tag) == 0) return &p->records[i];
  return NULL;
}

const char *plan_get(const struct plan *p, const char *tag, int field, const char *fallback) {
  const struct record *r = plan_find(p, tag);
  if (!r || field >= r->nfields) return fallback;
  return r->fields[field];
}

unsigned long long parse_ull(const char *s) { return strtoull(s, NULL, 10); }

long long plan_get_ll(const struct plan *p, const char *tag, int field, long long fallback) {
  const char *v = plan_get(p, tag, field, NULL);
  return v ? strtoll(v, NULL, 10) : fallback;
}
