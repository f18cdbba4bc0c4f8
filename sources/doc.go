// Package sources reads what bandercheck checks: a mirror on a POSIX disk
// (DirStore) or under an S3 prefix (S3Store), a bandersnatch.conf, and
// upstream indexes over HTTP.
package sources
