/* A write-sealed memfd copy of a file: what ccrun-init runs from
 * (CVE-2019-5736), made by the addon before the spawn or, when started any
 * other way, by the helper itself (native/init/sealed.c). */
#ifndef CCRUN_SEALED_COPY_H
#define CCRUN_SEALED_COPY_H
#ifdef __cplusplus
extern "C" {
#endif

/* A close-on-exec memfd named `name` holding the whole file open at `src`,
 * sealed against writes, growth, shrinking and new seals; -1 with errno set
 * when it cannot be made. `src` stays open. */
int sealed_copy(int src, const char *name);

#ifdef __cplusplus
}
#endif
#endif
