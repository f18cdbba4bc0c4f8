#!/usr/bin/env python3
"""Writes the golden cases of the configparser package: each NAME.conf, and
NAME.json with what Python's configparser makes of it, read as bandersnatch 8
reads its config: ConfigParser(delimiters="="), keys kept as written.

Run from this folder after changing a case: python3 gen.py
The Go test only reads the output, so CI needs no Python.
"""
import configparser
import hashlib
import json
import os


class BandersnatchLike(configparser.ConfigParser):
    def optionxform(self, optionstr):
        return optionstr


def long_case():
    rx = "\n".join("    .*%d\\.%d\\.2-never-matches" % (i // 10, i % 10) for i in range(293))
    allow = "\n".join("    project-%07d" % (i * 3 + 1) for i in range(200))
    return ("[mirror]\ndirectory = /srv/pypi\n\n"
            "[filter_regex]\nreleases =\n" + rx + "\n\n"
            "[allowlist]\npackages =\n" + allow + "\n    # the end\n\n"
            "[plugins]\nenabled =\n    regex_release\n    allowlist_project\n")


def wide_case():
    # 4 references a level, 9 levels: 524,288 bytes, within Python's depth and our budget
    lines = ["[w]"]
    for i in range(9):
        lines.append("l%d = %%(l%d)s%%(l%d)s%%(l%d)s%%(l%d)s" % (i, i + 1, i + 1, i + 1, i + 1))
    lines.append("l9 = x%%y")
    return "\n".join(lines) + "\n"


def chain_case(n):
    lines = ["[c]"]
    for i in range(n):
        lines.append("k%d = <%%(k%d)s>" % (i, i + 1))
    lines.append("k%d = %%%%end" % n)
    return "\n".join(lines) + "\n"


CASES = {
    "basic": "[mirror]\ndirectory = /srv/pypi\nmaster=https://upstream.example\njson = true\n"
             "a = = b\nc==d\ne =\nf=\n  g  =  spaced value  \n",
    "long": long_case(),
    "continuation": (
        "[s]\nkey = first\n    second\n\tthird (tab)\n\n    after an empty line\n"
        "  # a comment inside the value\n    ; another\n    fourth\n\n\n"
        "other = x\n"
        "  indented = key line\n"
        "  not a continuation = same indent\n"
        "      deeper continuation\n"
        "empty =\n    only continuation\n"
        "trailing = t\n   \n\n"
        "[t]\nlooks = like\n    [a section] but continued\n    x = y continued\n"),
    "comments": (
        "# full line\n; full line\n[s]\n# c\na = value # not a comment\nb = value ; not a comment\n"
        "   # indented comment\nc = 1\n  #x\n  2\n;d = 3\n#e = 4\n"),
    "interpolation": (
        "[DEFAULT]\nbase = /srv\npct = 100%%\n"
        "[s]\nroot = %(base)s/pypi\nweb = %(root)s/web\nrate = %(pct)s\nliteral = 50%% off\n"
        "Key = upper\nkey = lower\nuse_upper = %(Key)s\nuse_lower = %(key)s\n"
        "missing = %(nope)s\nbad1 = 10%\nbad2 = %x\nbad3 = %(unclosed\nbad4 = %()s\nbad5 = %(base)d\n"
        "multi = a\n    %(base)s\n    b\n"
        "self = %(self)s\nloop1 = %(loop2)s\nloop2 = %(loop1)s\n"
        "[t]\nbase = /other\nroot = %(base)s/t\n"),
    "depth10": chain_case(9),
    "depth11": chain_case(10),
    "wide": wide_case(),
    "case": "[Mirror]\nA = 1\n[mirror]\na = 2\nA = 3\n",
    "headers": "[a]b]\nx = 1\n[ spaced ]\ny = 2\n[z] trailing\nw = 3\n[DEFAULT]\nd = 4\n[DEFAULT]\nd2 = 5\n",
    "crlf": "[s]\r\na = 1\r\nb = x\r\n  y\r\n\r\nc = 2\rd = 3\r",
    "unicode": "[s]\nk = v\n\x1c\x1dmore\n\u00a0nbsp\nz = \u00e9t\u00e9 \x1f\n\u3000w = ideographic indent\n",
    "err_noheader": "a = 1\n[s]\n",
    "err_dupsection": "[s]\na = 1\n[s]\nb = 2\n",
    "err_dupoption": "[s]\na = 1\na = 2\n",
    "err_colon": "[s]\na: 1\nb = 2\njunk\n",
    "err_emptykey": "[s]\n= 1\n",
}


def dump(name, text):
    with open(name + ".conf", "w", encoding="utf-8", newline="") as f:
        f.write(text)
    p = BandersnatchLike(delimiters="=")
    out = {"error": None, "sections": []}
    try:
        p.read(name + ".conf", encoding="utf-8")
    except configparser.Error as e:
        line = getattr(e, "lineno", None)
        if isinstance(e, configparser.ParsingError) and not isinstance(e, configparser.MissingSectionHeaderError):
            line = e.errors[0][0]
        out["error"] = {"kind": type(e).__name__, "line": line}
    if out["error"] is None:
        for s in p.sections() + ["DEFAULT"]:
            opts = []
            for k in (p.options(s) if s != "DEFAULT" else list(p.defaults())):
                o = {"key": k, "raw": p.get(s, k, raw=True)}
                try:
                    v = p.get(s, k)
                    if len(v) > 4096:
                        o["len"] = len(v.encode())
                        o["sha256"] = hashlib.sha256(v.encode()).hexdigest()
                    else:
                        o["value"] = v
                except configparser.Error as e:
                    o["error"] = type(e).__name__
                opts.append(o)
            out["sections"].append({"name": s, "options": opts})
    with open(name + ".json", "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    for name, text in CASES.items():
        dump(name, text)
