// Package sinks changes a mirror through its store's write side (store.Writer): it
// checks every planned path before anything acts on it, downloads planned
// files through digest and size checks, and rewrites the root simple index.
package sinks
