// Package sources reads what bandercheck is told: PyPI's JSON documents and
// simple pages (streamed, in bounded memory), project names and mirror paths,
// digests, a bandersnatch.conf, and upstream's project index over HTTP. The
// mirror's stores live in internal/store (the contract) and its backends.
package sources
