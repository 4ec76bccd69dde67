/* Core utilities: message escaping (control characters from input never reach the terminal). */
#include "mzoo/core.h"
#include "check.h"

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
    return check_summary("test_core");
}
