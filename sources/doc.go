// Package sources holds the stores bandercheck works on, one per backend: a
// mirror on a POSIX disk (DirStore) or under an S3 prefix (S3Store), each
// with its read side (the Store interface the scans use) and its write side
// (Create, Remove, RemoveTree, Present, Lock, which apply uses through
// sinks.Mirror). It also reads a bandersnatch.conf, PyPI's metadata formats
// and upstream indexes over HTTP.
package sources
