#!/usr/bin/env python3
"""Writes pystring.txt: for each input of TestPyStringPlainAndEscaped, its
bytes in hex, a tab, and what json.dumps (ensure_ascii, as bandersnatch
writes) gives for it. Bytes that are not UTF-8 become U+FFFD, as Go's
range over a string reads them. Run: python3 gen.py > pystring.txt"""
import json

inputs = [b"", b"proj-0000001", b"https://files.example.org/packages/ab/cd/x-1.0.tar.gz",
          "Ünï Côde ☃ 𝄞".encode(), b'a"b\\c', b"tab\there"]
for c in range(256):
    inputs += [bytes([c]), b"name-" + bytes([c]) + b"-x"]
for raw in inputs:
    print(raw.hex() + "\t" + json.dumps(raw.decode("utf-8", "replace")))
