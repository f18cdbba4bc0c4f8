package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MetadataManifests are the manifests scan metadata writes, in its order.
var MetadataManifests = []string{"projects", "designated", "problems/metadata"}

// FingerprintFile is STATE/projects/_fingerprint: everything besides the
// documents that scan metadata's rows depend on (source, hash index, the
// config's designation and filters, its path, the partition), as one line.
// A later scan reuses the rows of STATE/previous only under the same line.
const FingerprintFile = "_fingerprint"

// MixedFingerprint is recorded when a resumed scan metadata ran under
// another fingerprint than the one it started with: its rows never match.
const MixedFingerprint = "mixed"

// RecordFingerprint writes fp as the fingerprint of the scan metadata in
// STATE, or MixedFingerprint when the stage already recorded another.
func (s *State) RecordFingerprint(fp string) error {
	path := filepath.Join(s.dir, "projects", FingerprintFile)
	if old, err := os.ReadFile(path); err == nil {
		if string(old) == fp {
			return nil
		}
		fp = MixedFingerprint
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("record the metadata fingerprint: %w", err)
	}
	if err := WriteFileAtomic(path, []byte(fp)); err != nil {
		return fmt.Errorf("record the metadata fingerprint: %w", err)
	}
	return nil
}

// Fingerprint is the fingerprint recorded in STATE/projects, or "".
func (s *State) Fingerprint() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "projects", FingerprintFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// KeepPreviousMetadata moves a finished scan metadata's manifests (projects,
// designated, problems/metadata, with the fingerprint) to STATE/previous,
// replacing the ones kept before (and everything kept of another mirror), so
// that the next scan metadata reuses the rows of the projects whose
// documents did not change. An unfinished scan is left for --fresh to
// discard, and the last finished one stays kept.
func (s *State) KeepPreviousMetadata(mirror string) error {
	for _, m := range MetadataManifests {
		if !s.Done(m) {
			return nil
		}
	}
	defer s.Forget()
	stateDir := s.dir
	prev := filepath.Join(stateDir, PreviousDir)
	if previousMirror(stateDir) != mirror {
		if err := os.RemoveAll(prev); err != nil { // what is kept describes another mirror
			return fmt.Errorf("keep the metadata manifests: %w", err)
		}
	}
	for _, m := range MetadataManifests {
		if err := os.RemoveAll(filepath.Join(prev, filepath.FromSlash(m))); err != nil {
			return fmt.Errorf("keep the metadata manifests: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(prev, "problems"), 0o700); err != nil {
		return fmt.Errorf("keep the metadata manifests: %w", err)
	}
	if err := os.WriteFile(filepath.Join(prev, "mirror"), []byte(mirror), 0o600); err != nil {
		return fmt.Errorf("keep the metadata manifests: %w", err)
	}
	// projects last: it is what a reuse opens first, so a kill part-way
	// leaves no projects beside another scan's designated rows
	for _, m := range []string{"designated", "problems/metadata", "projects"} {
		if err := os.Rename(filepath.Join(stateDir, filepath.FromSlash(m)), filepath.Join(prev, filepath.FromSlash(m))); err != nil {
			return errors.Join(fmt.Errorf("keep the metadata manifests: %w", err), os.RemoveAll(filepath.Join(prev, "projects")))
		}
	}
	return syncDir(prev)
}
