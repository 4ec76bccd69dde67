/* A plain main() for the fuzz targets, so that any compiler (gcc too) can build them and replay
 * a corpus without libFuzzer: each argument is a file or a directory of files (not recursive),
 * each file is passed once to LLVMFuzzerTestOneInput. Exit status 0 when every input returned;
 * a crash, a sanitizer report or an abort() in the target is the failure. ctest runs one of
 * these per corpus in tests/fuzz/corpus/<target>/. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "replay: out of memory reading %s\n", path);
                free(buf);
                fclose(f);
                return 1;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    /* a copy of exactly len bytes, so that a read past the input is caught by the sanitizer */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int fails = 0;
    long n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(sb.st_mode)) {
            fails += run_file(argv[i]);
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d)
            return 1;
        char **names = NULL;
        size_t nn = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            if (nn == cap) {
                cap = cap ? 2 * cap : 64;
                char **nb = realloc(names, cap * sizeof *names);
                if (!nb)
                    return 1;
                names = nb;
            }
            size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
            names[nn] = malloc(l);
            if (!names[nn])
                return 1;
            snprintf(names[nn++], l, "%s/%s", argv[i], e->d_name);
        }
        closedir(d);
        qsort(names, nn, sizeof *names, by_name);
        for (size_t k = 0; k < nn; k++) {
            fails += run_file(names[k]);
            n++;
            free(names[k]);
        }
        free(names);
    }
    printf("replay: %ld inputs, %d unreadable\n", n, fails);
    return fails ? 1 : 0;
}
