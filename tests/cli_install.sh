#!/usr/bin/env bash
# `cmake --install` into a scratch prefix: the command, libmzoo.so.0 (soname, only mz_ symbols
# exported), the public headers, mzoo.pc (relocatable) and the Python package, which binds the
# installed library. A C program is compiled and linked with `pkg-config --cflags --libs mzoo`
# alone and runs against the installed library; `import mzoo` works from the installed tree.
set -u
BIN=${MZ_BIN:?}
BUILD=$(dirname "$BIN")
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "cli_install: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log" >&2; fail "cmake --install failed"; }
P=$T/prefix
for f in bin/mzoo lib/libmzoo.so lib/libmzoo.so.0 include/mzoo/loader.h include/mzoo/eval.h \
         include/mzoo/store.h lib/pkgconfig/mzoo.pc; do
    [ -e "$P/$f" ] || fail "$f was not installed"
done
[ "$(readlink "$P/lib/libmzoo.so.0")" = libmzoo.so.0.1.0 ] || fail "libmzoo.so.0 -> $(readlink "$P/lib/libmzoo.so.0")"
objdump -p "$P/lib/libmzoo.so.0" | grep -q 'SONAME *libmzoo.so.0$' || fail "soname is not libmzoo.so.0"
others=$(nm -D --defined-only "$P/lib/libmzoo.so.0" | awk '$3 !~ /^mz_/ {print $3}' | head -5)
[ -z "$others" ] || fail "libmzoo.so exports symbols without the mz_ prefix: $others"
"$P/bin/mzoo" --version >/dev/null 2>&1 || "$P/bin/mzoo" presets >/dev/null || fail "the installed mzoo does not run"

# C users: pkg-config alone
export PKG_CONFIG_PATH=$P/lib/pkgconfig
[ "$(pkg-config --modversion mzoo)" = 0.1.0 ] || fail "pkg-config --modversion mzoo: $(pkg-config --modversion mzoo)"
cat > "$T/use.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <mzoo/eval.h>
#include <mzoo/store.h>
int main(int argc, char **argv)
{
    mz_error err;
    mz_store *st = NULL;
    if (mz_store_open(&st, argv[1], MZ_STORE_READ, &err) != MZ_EFORMAT)
        return 1;
    mz_evaluator *ev = NULL;
    if (mz_evaluator_open(&ev, "/nonexistent/zoo.db", NULL, &err) != MZ_ENOTFOUND)
        return 2;
    printf("%s | %s\n", mz_strerror(MZ_EFORMAT), err.msg);
    return argc == 2 ? 0 : 3;
}
C
echo "not a zoo" > "$T/notzoo.db"
# shellcheck disable=SC2046
cc -std=c11 "$T/use.c" -o "$T/use" $(pkg-config --cflags --libs mzoo) || fail "cannot build with pkg-config --cflags --libs mzoo"
LD_LIBRARY_PATH=$P/lib "$T/use" "$T/notzoo.db" >"$T/use.out" || fail "the C program failed ($?)"
LD_LIBRARY_PATH=$P/lib ldd "$T/use" | grep -q "$P/lib/libmzoo.so.0" || fail "the program does not use the installed library"

# Python users: the installed package binds the installed library
site=$(cd "$P" && ls -d lib/python3*/dist-packages)
[ -f "$P/$site/mzoo/_install.py" ] || fail "mzoo/_install.py was not written"
[ -d "$P/$site/mzoo/__pycache__" ] && fail "__pycache__ was installed"
got=$(cd "$T" && env -u MZOO_LIBRARY PYTHONPATH="$P/$site" $PY -c 'import mzoo; print(mzoo.LIBRARY_PATH)') ||
    fail "import mzoo from the installed tree failed"
[ "$got" = "$P/lib/libmzoo.so.0.1.0" ] || fail "the installed package binds $got, not $P/lib/libmzoo.so.0.1.0"
(cd "$T" && env -u MZOO_LIBRARY PYTHONPATH="$P/$site" $PY -c '
import sys, mzoo
try:
    mzoo.open(sys.argv[1])
except mzoo.FormatError as e:
    print("refused:", e)
else:
    sys.exit("a non-zoo file was opened")' "$T/notzoo.db") >/dev/null || fail "the installed package misbehaves"
echo "cli_install: 1 passed, 0 failed"
