"""The commands of the repository's documents, for tests/cli_docs.sh.

Convention (stated in docs/ARCHITECTURE.md, "Documents"):
  - every code fence names its language: ```sh blocks hold commands, each line a command run from
    the repository root (a command may continue over lines: a trailing backslash, an open quote);
    ```text holds output and synopses, ```json, ```python, ```c what they say;
  - a command that cannot run in the test suite says why, either for its whole block with
    <!-- docs-test: skip: REASON --> on the line before the fence, or for one line with a trailing
    comment # [docs-test: skip: REASON];
  - documents cite nothing that does not ship with them (no section numbers of outside texts),
    and Python is run as /usr/bin/python3 (another python3 first on PATH may lack numpy).

usage: docs_commands.py SOURCE_DIR OUT_SCRIPT FILE...
Writes a bash script that runs every command not skipped, one block per subshell, and prints
"FILE:LINE: ..." for each command that fails; convention errors are printed and exit status 1.
"""
import re
import shlex
import subprocess
import sys

FENCE = re.compile(r"^(\s*)```(.*)$")
SKIP_BLOCK = re.compile(r"^<!--\s*docs-test:\s*skip:\s*(\S.*?)\s*-->\s*$")
SKIP_LINE = re.compile(r"#\s*\[docs-test:\s*skip:\s*(\S[^\]]*)\]\s*$")
# texts that do not ship with the repository, cited by name or section number
FOREIGN = [
    (re.compile(r"original-system"), "cites original-system.md, which does not ship"),
    (re.compile(r"§"), "cites a section by number (§) of a text that does not ship"),
    (re.compile(r"\.\./shared"), "points outside the repository (../shared)"),
    (re.compile(r"\bthe issue\b|\bissue asks\b|\(issue[ :]", re.I), "cites an issue instead of saying the point"),
]


def complete(text):
    """Whether text parses as whole bash commands."""
    return subprocess.run(["bash", "-n", "-c", text], capture_output=True).returncode == 0


def scan(path, errors):
    """The commands of path: (line, text, skip reason or None), blocks of them."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks = []
    in_fence = None  # language of the open fence
    block_skip = None
    pending = None  # (first line, text) of a command continued over lines
    for no, line in enumerate(lines, 1):
        for rx, what in FOREIGN:
            if rx.search(line):
                errors.append(f"{path}:{no}: {what}: {line.strip()}")
        m = FENCE.match(line)
        if m and in_fence is None:
            lang = m.group(2).strip()
            if not lang:
                errors.append(f"{path}:{no}: a code fence without a language "
                              "(say sh for commands, text for output or a synopsis)")
            in_fence = lang or "?"
            prev = next((lines[i] for i in range(no - 2, -1, -1) if lines[i].strip()), "")
            sm = SKIP_BLOCK.match(prev.strip())
            block_skip = sm.group(1) if sm else None
            if "docs-test" in prev and not sm:
                errors.append(f"{path}:{no - 1}: malformed marker (expected "
                              "<!-- docs-test: skip: REASON -->)")
            if in_fence in ("sh", "bash", "shell"):
                blocks.append([])
            continue
        if m and in_fence is not None:
            if pending:
                errors.append(f"{path}:{pending[0]}: the command does not end in its block")
            in_fence, pending = None, None
            continue
        if in_fence not in ("sh", "bash", "shell"):
            continue
        if pending is None and (not line.strip() or line.lstrip().startswith("#")):
            continue
        first, text = pending if pending else (no, "")
        text = text + ("\n" if text else "") + line
        if not complete(text):
            pending = (first, text)
            continue
        pending = None
        sm = SKIP_LINE.search(text)
        reason = block_skip or (sm.group(1) if sm else None)
        if "docs-test" in text and not sm:
            errors.append(f"{path}:{first}: malformed marker (expected # [docs-test: skip: REASON])")
        try:
            words = shlex.split(text, comments=True)
        except ValueError:
            words = []
        for w in words:
            if w in ("python", "python3"):
                errors.append(f"{path}:{first}: runs '{w}': say /usr/bin/python3 (another python3 "
                              "first on PATH may lack numpy)")
        blocks[-1].append((first, text, reason))
    return blocks


def main():
    src, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    errors = []
    script = ["#!/usr/bin/env bash", "# written by tests/docs_commands.py", 'fails=0 ran=0 skipped=0']
    for f in files:
        rel = f[len(src) + 1:] if f.startswith(src + "/") else f
        for block in scan(f, errors):
            body = []
            for line, text, reason in block:
                where = f"{rel}:{line}"
                if reason:
                    script.append(f"skipped=$((skipped + 1)); echo {shlex.quote(f'skip {where}: {reason}')}")
                    continue
                body += [
                    "t0=$EPOCHREALTIME",
                    "{ " + text + "\n} > \"$DOCS_LOG\" 2>&1",
                    "rc=$?",
                    f"awk -v a=$t0 -v b=$EPOCHREALTIME -v w={shlex.quote(where + ': ' + text.splitlines()[0])} "
                    "'BEGIN { printf \"%6.1f s  %s\\n\", b - a, w }'",
                    'echo ran >> "$DOCS_COUNTS"',
                    f'[ $rc -eq 0 ] || {{ echo {shlex.quote(f"FAIL {where}: exit ")}$rc: '
                    f'{shlex.quote(text)}; tail -n 15 "$DOCS_LOG" | sed "s/^/    /"; }} >> "$DOCS_FAILS"',
                ]
            if body:
                script += ["(", "set +e"] + body + [")"]
    open(out, "w").write("\n".join(script) + "\n")
    for e in errors:
        print(e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
