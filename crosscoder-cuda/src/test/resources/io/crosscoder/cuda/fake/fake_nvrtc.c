/*
 * A stand-in for libnvrtc, for tests on machines without CUDA. It exports the NVRTC entry points
 * the Java binding calls, with the C signatures of nvrtc.h, and "compiles" by writing a PTX text
 * the test can predict:
 *
 *   // PTX of <name>
 *   // options: <opt1> <opt2> ...
 *   <source>
 *
 * A source containing "#error" fails with NVRTC_ERROR_COMPILATION and the log
 * "<name>(1): error: <rest of that line>"; an option not starting with '-' fails with
 * NVRTC_ERROR_INVALID_OPTION.
 */
#include <stdlib.h>
#include <string.h>

#define RESULT_INVALID_INPUT 3
#define RESULT_INVALID_PROGRAM 4
#define RESULT_INVALID_OPTION 5
#define RESULT_COMPILATION 6

typedef struct {
  char *source;
  char *name;
  char *log;
  char *ptx;
} program;

static int live;

int fake_live_programs(void) { return live; }

static char *copy(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  memcpy(d, s, n);
  return d;
}

int nvrtcVersion(int *major, int *minor) {
  *major = 13;
  *minor = 0;
  return 0;
}

int nvrtcCreateProgram(program **prog, const char *src, const char *name, int num_headers,
                       const char *const *headers, const char *const *include_names) {
  if (prog == NULL || src == NULL || num_headers < 0) return RESULT_INVALID_INPUT;
  program *p = calloc(1, sizeof *p);
  p->source = copy(src);
  p->name = copy(name == NULL || name[0] == 0 ? "default_program" : name);
  p->log = copy("");
  *prog = p;
  live++;
  return 0;
}

int nvrtcCompileProgram(program *p, int num_options, const char *const *options) {
  if (p == NULL) return RESULT_INVALID_PROGRAM;
  if (num_options > 0 && options == NULL) return RESULT_INVALID_INPUT;
  for (int i = 0; i < num_options; i++) {
    if (options[i][0] != '-') return RESULT_INVALID_OPTION;
  }
  const char *error = strstr(p->source, "#error");
  if (error != NULL) {
    const char *what = error + strlen("#error");
    while (*what == ' ') what++;
    size_t len = strcspn(what, "\n");
    free(p->log);
    p->log = malloc(strlen(p->name) + len + 32);
    strcpy(p->log, p->name);
    strcat(p->log, "(1): error: ");
    strncat(p->log, what, len);
    return RESULT_COMPILATION;
  }
  size_t size = strlen(p->name) + strlen(p->source) + 64;
  for (int i = 0; i < num_options; i++) size += strlen(options[i]) + 1;
  free(p->ptx);
  p->ptx = malloc(size);
  strcpy(p->ptx, "// PTX of ");
  strcat(p->ptx, p->name);
  strcat(p->ptx, "\n// options:");
  for (int i = 0; i < num_options; i++) {
    strcat(p->ptx, " ");
    strcat(p->ptx, options[i]);
  }
  strcat(p->ptx, "\n");
  strcat(p->ptx, p->source);
  return 0;
}

int nvrtcGetPTXSize(program *p, size_t *size) {
  if (p == NULL || p->ptx == NULL) return RESULT_INVALID_PROGRAM;
  *size = strlen(p->ptx) + 1;
  return 0;
}

int nvrtcGetPTX(program *p, char *ptx) {
  if (p == NULL || p->ptx == NULL) return RESULT_INVALID_PROGRAM;
  strcpy(ptx, p->ptx);
  return 0;
}

int nvrtcGetProgramLogSize(program *p, size_t *size) {
  if (p == NULL) return RESULT_INVALID_PROGRAM;
  *size = strlen(p->log) + 1;
  return 0;
}

int nvrtcGetProgramLog(program *p, char *log) {
  if (p == NULL) return RESULT_INVALID_PROGRAM;
  strcpy(log, p->log);
  return 0;
}

int nvrtcDestroyProgram(program **prog) {
  if (prog == NULL || *prog == NULL) return RESULT_INVALID_PROGRAM;
  program *p = *prog;
  free(p->source);
  free(p->name);
  free(p->log);
  free(p->ptx);
  free(p);
  *prog = NULL;
  live--;
  return 0;
}
