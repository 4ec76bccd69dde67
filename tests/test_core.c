/* Core utilities: message escaping (control characters from input never reach the terminal) and
 * the invariant check (MZ_ASSERT prints where and aborts). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mzoo/core.h"
#include "check.h"

/* MZ_ASSERT(cond) in a child: its exit and what it printed. */
static int assert_in_child(int hold, char *out, size_t cap)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        MZ_ASSERT(hold == 1);
        _exit(0);
    }
    close(fd[1]);
    ssize_t n = read(fd[0], out, cap - 1);
    out[n > 0 ? n : 0] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void check_escape(const char *in, const char *want)
{
    char out[256];
    mz_escape(out, sizeof out, in);
    CHECK_MSG(!strcmp(out, want), "escape(%s): got '%s', want '%s'", want, out, want);
}

int main(void)
{
    check_escape("plain text, [1,2] {x}", "plain text, [1,2] {x}");
    check_escape("\x1b[31mEVIL\x1b[0m\nsecond line", "\\x1b[31mEVIL\\x1b[0m\\nsecond line");
    check_escape("tab\there\r", "tab\\there\\r");
    check_escape("del\x7f", "del\\x7f");
    check_escape("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"); /* valid UTF-8 kept */
    check_escape("csi\xc2\x9b", "csi\\xc2\\x9b");                         /* C1 control U+009B */
    check_escape("raw\x9b", "raw\\x9b");                                  /* 8-bit CSI byte */
    check_escape("bad\xc3(", "bad\\xc3(");                                /* truncated sequence */
    check_escape("over\xc0\xaf", "over\\xc0\\xaf");                       /* overlong '/' */
    check_escape("surrogate\xed\xa0\x80", "surrogate\\xed\\xa0\\x80");
    check_escape(NULL, "");

    /* cut at a whole escape, never in the middle of one */
    char small[6];
    mz_escape(small, sizeof small, "ab\x1b");
    CHECK(!strcmp(small, "ab"));
    mz_escape(small, sizeof small, "a\xc3\xa9\xc3\xa9\xc3\xa9");
    CHECK(!strcmp(small, "a\xc3\xa9\xc3\xa9"));

    /* every message goes through it, and escaping an escaped message changes nothing */
    mz_error e = {0};
    mz_fail(&e, MZ_ESPEC, "spec.json: architecture: unknown '%s'", "\x1b[2J\nrm");
    CHECK(!strcmp(e.msg, "spec.json: architecture: unknown '\\x1b[2J\\nrm'"));
    CHECK_EQ_INT(e.code, MZ_ESPEC);
    mz_error_prefix(&e, "from %s", "dir\x07");
    CHECK(!strcmp(e.msg, "from dir\\x07: spec.json: architecture: unknown '\\x1b[2J\\nrm'"));
    CHECK_EQ_INT(e.code, MZ_ESPEC);
    for (const char *p = e.msg; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
    char out[256];
    int status = assert_in_child(1, out, sizeof out);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && out[0] == 0);
    status = assert_in_child(0, out, sizeof out);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK_MSG(strstr(out, "test_core.c:") && strstr(out, "invariant failed: hold == 1"), "%s", out);
    return check_summary("test_core");
}
