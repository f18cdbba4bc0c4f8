// Package sinks changes a mirror: it downloads planned files through digest
// and size checks into a POSIX folder or an S3 prefix, deletes files and
// project metadata, rewrites the root simple index, and takes the mirror's lock.
package sinks
