/* probe_io.h - input and output for the lesson's probes WITHOUT touching malloc:
 * stdio would malloc a buffer inside the very heap we are drawing, so we read
 * the trace with read(2) into a static buffer and print with write(2). */
#ifndef PROBE_IO_H
#define PROBE_IO_H
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char out_buf[1 << 16];
static size_t out_len;

static void out_flush(void)
{
    size_t done = 0;
    while (done < out_len) {
        ssize_t n = write(1, out_buf + done, out_len - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    out_len = 0;
}

/* printf-like, into the static buffer (vsnprintf does not allocate for these formats) */
static void out(const char *fmt, ...)
{
    if (out_len > sizeof out_buf - 512) out_flush();
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out_buf + out_len, sizeof out_buf - out_len, fmt, ap);
    va_end(ap);
    if (n > 0) out_len += (size_t)n < sizeof out_buf - out_len ? (size_t)n : sizeof out_buf - out_len - 1;
}

/* a trace: "alloc ID SIZE" / "free ID", numeric ids 0..MAX_ID-1, '#' comments */
#define MAX_OPS 100000
#define MAX_ID 65536
static char trace_text[1 << 21];
static char op_kind[MAX_OPS];          /* 'a' or 'f' */
static int op_id[MAX_OPS];
static long op_size[MAX_OPS];

/* Numbers are parsed here, not with sscanf or strtol: a probe built against glibc 2.38+
 * would call their C23 variants (__isoc23_sscanf, GLIBC_2.38), and could then not run
 * under an older glibc's loader (lesson 01 runs one probe under several glibc versions). */
static char *skip_space(char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    return p;
}

/* a decimal number at *p (after blanks): 1 and *p moved past it, or 0 */
static int parse_long(char **p, long *v)
{
    char *q = skip_space(*p);
    int neg = *q == '-';
    if (neg) q++;
    if (*q < '0' || *q > '9') return 0;
    long x = 0;
    while (*q >= '0' && *q <= '9') x = x * 10 + (*q++ - '0');
    *v = neg ? -x : x;
    *p = q;
    return 1;
}

static __attribute__((unused)) long arg_long(const char *text, long fallback)
{
    char *p = (char *)text;
    long v;
    return parse_long(&p, &v) ? v : fallback;
}

static int read_trace(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd, trace_text + len, sizeof trace_text - 1 - len)) > 0) len += (size_t)n;
    close(fd);
    trace_text[len] = 0;
    int nops = 0;
    for (char *line = trace_text; *line && nops < MAX_OPS; ) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = 0;
        char *p = skip_space(line), kind = *p;
        while (*p && *p != ' ' && *p != '\t') p++;          /* the operation's word */
        long id = -1, size = 0;
        int got = kind && parse_long(&p, &id) ? 2 + parse_long(&p, &size) : 0;
        if (got >= 2 && kind != '#' && id >= 0 && id < MAX_ID) {
            op_kind[nops] = kind;
            op_id[nops] = (int)id;
            op_size[nops] = size;
            nops++;
        }
        if (!eol) break;
        line = eol + 1;
    }
    return nops;
}
#endif
