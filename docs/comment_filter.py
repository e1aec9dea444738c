#!/usr/bin/env python3
"""Doxygen INPUT_FILTER: read mxrtc's plain `//` header comments as documentation.

The public headers are commented with `//` only (design/style.md). Doxygen reads `///` and `///<`,
so this filter rewrites, line by line (line numbers are kept, so warnings point at the header):

* the comment block at the top of a file        -> `///` lines ending in `@file` (the file's page)
* a whole-line `// text`                        -> `/// text` (documents the declaration below)
* `declaration;  // text` (also after `,`)      -> `declaration;  ///< text` (documents that member)
* a `//` line aligned under such a trailing comment continues it (`///<`)

Comment text is escaped so that Doxygen sees it as prose: `\\`, `@`, `<`, `>` and `&` outside
`code spans` lose their meaning as commands, HTML tags and entities (`<dir>/olm.db`, `@user:hs`).
An indented run after an empty comment line (an example, a table) becomes a Markdown code block,
shown verbatim. Comments inside inline function bodies stay plain `//` comments.
"""
import re
import sys

_TRAILING = re.compile(r"^(?P<code>.*?[;,{])(?P<gap>\s*)//(?!/)(?P<text>.*)$")
_WHOLE = re.compile(r"^(?P<indent>\s*)//(?![/!])(?P<text>.*)$")


def escape(text: str) -> str:
    """Escape Doxygen commands, HTML and entities outside `code spans`."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # even parts are outside backticks
        p = parts[i]
        p = p.replace("\\", "\\\\")
        for ch in "@<>&":
            p = p.replace(ch, "\\" + ch)
        parts[i] = p
    if len(parts) % 2 == 0:  # unbalanced backtick: keep it literal
        parts[-2] = parts[-2] + "\\`" + parts.pop()
    return "`".join(parts)


def in_string(code: str) -> bool:
    """Whether `code` ends inside a string literal (then `//` is part of the string)."""
    quotes = 0
    escaped = False
    for ch in code:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quotes += 1
    return quotes % 2 == 1


class Block:
    """Renders whole-line comments; keeps indented runs after an empty comment line as code."""

    def __init__(self):
        self.prev_blank = False
        self.in_code = False

    def render(self, indent: str, text: str, marker: str = "///") -> str:
        body = text[1:] if text.startswith(" ") else text
        lead = len(body) - len(body.lstrip(" "))
        is_item = body.lstrip().startswith(("* ", "- "))
        if body.strip() and lead >= 2 and not is_item and (self.in_code or self.prev_blank):
            self.in_code = True
            self.prev_blank = False
            return indent + marker + "    " + body  # a Markdown code block: verbatim, no escaping
        self.in_code = False
        self.prev_blank = not body.strip()
        return indent + marker + escape(text)

    def reset(self):
        self.prev_blank = False
        self.in_code = False


def brace_delta(code: str) -> int:
    return code.count("{") - code.count("}")


def filter_lines(lines):
    out = []
    header = True  # still in the file's leading comment block
    header_lines = 0
    block = Block()
    trailing_col = None  # column of the previous line's trailing comment
    # Depth of braces that open a function body (a `)` before the `{`), where comments stay plain.
    depth = 0
    body_depth = None
    for line in lines:
        nl = "\n" if line.endswith("\n") else ""
        s = line[: len(line) - len(nl)]
        whole = _WHOLE.match(s)
        if header:
            if whole:
                out.append(block.render(whole.group("indent"), whole.group("text")) + nl)
                header_lines += 1
                continue
            header = False
            block.reset()
            if header_lines:  # `@file` last on the block's last line: no name follows it
                last = out[-1]
                end = "\n" if last.endswith("\n") else ""
                out[-1] = last[: len(last) - len(end)] + " @file" + end
        if body_depth is not None:
            out.append(line)
            depth += brace_delta(s.split("//")[0])
            if depth <= body_depth:
                body_depth = None
            continue
        if whole:
            col = len(whole.group("indent"))
            if trailing_col is not None and col == trailing_col:
                out.append(whole.group("indent") + "///<" + escape(whole.group("text")) + nl)
            else:
                out.append(block.render(whole.group("indent"), whole.group("text")) + nl)
                trailing_col = None
            continue
        block.reset()
        trailing_col = None
        code = s
        m = _TRAILING.match(s)
        if m and not in_string(m.group("code")) and "//" not in m.group("code"):
            code = m.group("code")
            if code.rstrip().endswith("{"):
                out.append(code + m.group("gap") + "//" + m.group("text") + nl)  # after `{`: plain
            else:
                out.append(code + m.group("gap") + "///<" + escape(m.group("text")) + nl)
                trailing_col = len(code) + len(m.group("gap"))
        else:
            out.append(line)
        # A function body opens: `) {`, `) const {`, `) noexcept {`, `) -> T {` … (not a class).
        stripped = code.split("//")[0].rstrip()
        opens = brace_delta(stripped)
        if opens > 0 and re.search(r"\)[^(){};]*\{[^{}]*$", stripped):
            body_depth = depth
        depth += opens
    return out


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.readlines()
    sys.stdout.write("".join(filter_lines(lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
