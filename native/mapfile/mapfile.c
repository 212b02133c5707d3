// ccrun_mapfile.node: how bin/ccrun and the module loader (src/cli/code-cache.ts)
// stat and read ccrun's own build files on every command.
//  - map: maps a file and hands it to V8 as it lies in the page cache,
//    without a copy: reading create's ~260 KB bundle made a new heap string
//    and a new buffer, ~230 fresh pages, and a page fault costs ~14 us on the
//    machines this runs on; mapped, it is ~15 faults of the file's own pages.
//  - stamp: a file's size and mtime, as fs.statSync gives them.
// Node compiles its own fs functions on their first call: the first
// fs.readFileSync into a Buffer costs ~2.2 M instructions and the first
// fs.statSync ~1.3 M, more than this addon's whole load (~0.25 M); a small
// command such as `state` used them only for these files.
//
// A separate addon from ccrun_native.node because external strings are still
// an experimental Node-API (NAPI_EXPERIMENTAL), which should not change how
// the runtime's addon is loaded. It holds no fd open (the mapping keeps the
// file's pages), and the build replaces bundles by rename, never in place, so
// the pages a running ccrun has mapped never change under it.
#define NAPI_EXPERIMENTAL
#include <node_api.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void unmap(node_api_basic_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)hint);
}

// The call's arguments (at least want of them, into argv) and the first as a
// path; false when they are not there or the path does not fit.
static bool path_argument(napi_env env, napi_callback_info info, size_t want, napi_value *argv, char *path, size_t size) {
  size_t argc = want;
  size_t path_len;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= want &&
         napi_get_value_string_utf8(env, argv[0], path, size, &path_len) == napi_ok && path_len < size - 1;
}

// map(path, asLatin1String): the file as an external Latin-1 string (true)
// or an external Buffer (false); undefined when it cannot be mapped (missing,
// empty, not a regular file), and the caller reads it the usual way.
static napi_value map_file(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[4096];
  if (!path_argument(env, info, 2, argv, path, sizeof path)) return NULL;
  bool as_string = false;
  if (napi_get_value_bool(env, argv[1], &as_string) != napi_ok) return NULL;

  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
    close(fd);
    return NULL;
  }
  size_t size = (size_t)st.st_size;
  void *data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (data == MAP_FAILED) return NULL;

  napi_value result;
  napi_status status;
  if (as_string) {
    bool copied = false;
    status = node_api_create_external_string_latin1(env, (char *)data, size, unmap, (void *)size, &result, &copied);
    // V8 may copy instead (it does for short strings); the mapping is then not needed.
    if (status == napi_ok && copied) munmap(data, size);
  } else {
    status = napi_create_external_buffer(env, size, data, unmap, (void *)size, &result);
  }
  if (status != napi_ok) {
    munmap(data, size);
    return NULL;
  }
  return result;
}

// stamp(path): [size, mtimeMs] of a regular file (symlinks followed), with
// mtimeMs computed as Node computes Stats.mtimeMs; undefined otherwise.
static napi_value stamp_file(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[4096];
  if (!path_argument(env, info, 1, argv, path, sizeof path)) return NULL;
  struct stat st;
  if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) return NULL;
  // lib/internal/fs/utils.js: msFromTimeSpec(sec, nsec) = sec * 1e3 + nsec / 1e6, in doubles.
  double mtime_ms = (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6;
  napi_value result, size, mtime;
  if (napi_create_array_with_length(env, 2, &result) != napi_ok || napi_create_double(env, (double)st.st_size, &size) != napi_ok ||
      napi_create_double(env, mtime_ms, &mtime) != napi_ok || napi_set_element(env, result, 0, size) != napi_ok ||
      napi_set_element(env, result, 1, mtime) != napi_ok)
    return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  napi_value map, stamp;
  if (napi_create_function(env, "map", NAPI_AUTO_LENGTH, map_file, NULL, &map) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "map", map) != napi_ok) return NULL;
  if (napi_create_function(env, "stamp", NAPI_AUTO_LENGTH, stamp_file, NULL, &stamp) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "stamp", stamp) != napi_ok) return NULL;
  return exports;
}
