#!/usr/bin/env python3
"""Lists C++ function definitions by length, longest first.

Usage: tools/function_lengths.py [--over N] [DIR...]
(default: the product folders client db search server spec util worker).

A function's length is its lines from the first line of its signature to
its closing brace. Lambdas and local classes count towards the function
that holds them. The parse is textual (comments, strings and preprocessor
lines blanked, braces matched), which is enough for this tree's style; it is
a reading aid, not a compiler. STYLE.md asks for no function over ~80 lines
outside tests and `main`s.
"""
import pathlib
import re
import sys

PRODUCT = ["client", "db", "search", "server", "spec", "util", "worker"]
# A `{` after these opens a block that is not a function body.
NOT_FUNCTION = re.compile(
    r"^\s*(namespace|class|struct|union|enum|extern)\b|=\s*$|"
    r"\b(if|for|while|switch|catch|do|else|try)\s*$")
# The end of a signature: `)` then qualifiers, a trailing return type or
# abseil's lock annotations.
SIGNATURE_END = re.compile(
    r"\)\s*(const|override|final|noexcept|mutable|\s|->\s*[\w:<>,\s*&]+|ABSL_\w+\([^)]*\))*$")
# A lambda's head: `[captures](params) mutable -> type`.
LAMBDA_HEAD = re.compile(r"\]\s*(\([^)]*\))?\s*(mutable\s*)?(->[^{]*)?$")


def blank_non_code(text):
    """`text` with comments, string and character literals and preprocessor
    lines replaced by spaces (newlines kept), so braces can be counted."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i) + 2
            blank(i, j)
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            delim = re.match(r'R"([^(]*)\(', text[i:]).group(1)
            j = text.find(")" + delim + '"', i) + len(delim) + 2
            blank(i + 1, j - 1)
            i = j
        elif text[i] in "\"'":
            if text[i] == "'" and i > 0 and text[i - 1].isalnum():  # 1'000 separators
                i += 1
                continue
            quote, j = text[i], i + 1
            while text[j] != quote:
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        else:
            i += 1
    code = "".join(out)
    return re.sub(r"^[ \t]*#.*(\\\n.*)*",
                  lambda m: re.sub(r"[^\n]", " ", m.group(0)), code, flags=re.M)


def functions(path):
    """Yields (length, first line, name) of each function defined in `path`."""
    text = path.read_text()
    code = blank_non_code(text)
    stack = []  # (is_function, start offset) of each open brace
    statement_start = 0
    for i, c in enumerate(code):
        if c == "{":
            head = code[statement_start:i]
            h = head.strip()
            inside_function = any(is_function for is_function, _ in stack)
            is_function = False
            if not inside_function and h and not NOT_FUNCTION.search(h):
                lambda_only = LAMBDA_HEAD.search(h) and not re.match(r"^[\w:~<>]", h)
                if (SIGNATURE_END.search(h) and not lambda_only) or re.search(r"\)\s*:\s*\w", h):
                    is_function = True
            stack.append((is_function, statement_start + len(head) - len(head.lstrip())))
            statement_start = i + 1
        elif c == "}":
            if stack:
                is_function, start = stack.pop()
                if is_function:
                    first = code.count("\n", 0, start) + 1
                    last = code.count("\n", 0, i) + 1
                    words = text[start:text.find("(", start)].split()
                    yield last - first + 1, first, words[-1] if words else "?"
            statement_start = i + 1
        elif c == ";":
            statement_start = i + 1


def main(argv):
    over = 0
    if argv[:1] == ["--over"]:
        over, argv = int(argv[1]), argv[2:]
    rows = []
    for folder in argv or PRODUCT:
        for path in sorted(pathlib.Path(folder).rglob("*")):
            if path.suffix in (".cc", ".h"):
                for length, line, name in functions(path):
                    rows.append((length, f"{path}:{line}", name))
    rows.sort(key=lambda r: (-r[0], r[1]))
    for length, where, name in rows:
        if length > over:
            print(f"{length:4d} {where} {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
