/* testutil.c — see testutil.h. */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void redirect(const char *path, int fd, int flags)
{
    int f = open(path ? path : "/dev/null", flags, 0644);
    if (f < 0)
        _exit(126);
    dup2(f, fd);
    close(f);
}

int tu_run(const char *const *args, const char *cwd, const char *in_path,
           const char *out_path, const char *err_path)
{
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        return -1;
    argv[0] = (char *)GOPE_BIN;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        redirect(in_path, 0, O_RDONLY);
        redirect(out_path, 1, O_WRONLY | O_CREAT | O_TRUNC);
        redirect(err_path, 2, O_WRONLY | O_CREAT | O_TRUNC);
        execv(GOPE_BIN, argv);
        _exit(127);
    }
    free(argv);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(fp);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

bool tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return false;
    bool ok = fwrite(data, 1, len, fp) == len;
    return fclose(fp) == 0 && ok;
}

cJSON *tu_read_jsonl(const char *path)
{
    char *text = tu_read_file(path, NULL);
    if (!text)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); arr && line;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *item = cJSON_Parse(line);
        if (!item) {
            cJSON_Delete(arr);
            arr = NULL;
            break;
        }
        cJSON_AddItemToArray(arr, item);
    }
    free(text);
    return arr;
}

int tu_validate_schema(const char *const *paths, bool quiet)
{
    char cmd[8192];
    size_t len = (size_t)snprintf(cmd, sizeof cmd,
                                  "python3 '" GOPE_TEST_DATA "/../e2e/validate_schema.py' '"
                                  GOPE_TEST_DATA "/../../schemas'");
    for (size_t i = 0; paths[i] && len < sizeof cmd; i++)
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, " '%s'", paths[i]);
    if (quiet && len < sizeof cmd)
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, " >/dev/null");
    if (len >= sizeof cmd)
        return -1;
    fflush(NULL);
    const int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const cJSON *tu_get(const cJSON *o, const char *path)
{
    char key[64];
    const char *rest = path, *dot;
    while (o && (dot = strchr(rest, '.'))) {
        snprintf(key, sizeof key, "%.*s", (int)(dot - rest), rest);
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        rest = dot + 1;
    }
    o = cJSON_GetObjectItemCaseSensitive(o, rest);
    cr_assert(o, "missing %s", path);
    return o;
}

double tu_num(const cJSON *o, const char *path)
{
    const cJSON *v = tu_get(o, path);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", path);
    return v->valuedouble;
}

const char *tu_str(const cJSON *o, const char *path)
{
    const cJSON *v = tu_get(o, path);
    cr_assert(cJSON_IsString(v), "%s is not a string", path);
    return v->valuestring;
}

char *tu_tmpdir(void)
{
    char *d = strdup("/tmp/giftope-test-XXXXXX");
    if (d && !mkdtemp(d)) {
        free(d);
        return NULL;
    }
    return d;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(char *dir)
{
    if (!dir)
        return;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

bool tu_close(double got, double want)
{
    double scale = fmax(fabs(got), fabs(want));
    return fabs(got - want) <= fmax(1e-9 * scale, 1e-12);
}

bool tu_num_match(const cJSON *got, const cJSON *want)
{
    if (!want || cJSON_IsNull(want))
        return !got || cJSON_IsNull(got);
    return cJSON_IsNumber(got) && cJSON_IsNumber(want) &&
           tu_close(got->valuedouble, want->valuedouble);
}
