package pipeline

import (
	"fmt"
	"slices"
	"strings"
)

// ShardRows is the number of data rows in a full shard.
const ShardRows = 10000

// Columns of every manifest, by manifest name (its folder under STATE).
var Columns = map[string][]string{
	"storage":                 {"path", "size", "modified", "sha256", "hashed_at", "inode", "ctime", "etag", "verified"},
	"projects":                {"project", "normalized", "metadata_path", "serial", "files", "documents"},
	"designated":              {"path", "project", "size", "sha256", "url", "upload_time", "md5"},
	"problems/storage":        {"path", "stage", "error", "fallback"},
	"problems/metadata":       {"path", "stage", "error", "fallback"},
	"upstream":                {"project", "serial"},
	"plan/download":           {"path", "url", "size", "sha256", "reason", "upload_time"},
	"plan/delete":             {"path", "size", "reason"},
	"plan/remove-projects":    {"project", "path"},
	"applied/download":        {"path", "action", "result", "error"},
	"applied/delete":          {"path", "action", "result", "error"},
	"applied/remove-projects": {"path", "action", "result", "error"},
	"sync/upstream":           {"project", "name", "serial"},
	"sync/todo":               {"project", "name", "serial", "reason"},
	"sync/projects":           {"project", "serial", "result", "files", "error"},
	"sync/files":              {"path", "project", "size", "sha256", "url", "upload_time", "result"},
	"sync/written":            {"path", "project"},
	"problems/sync":           {"path", "stage", "error", "fallback"},
}

// ManifestNames lists the manifests in the order the stages write them.
var ManifestNames = []string{
	"storage", "problems/storage",
	"projects", "designated", "problems/metadata",
	"upstream",
	"plan/download", "plan/delete", "plan/remove-projects",
	"applied/download", "applied/delete", "applied/remove-projects",
	"sync/upstream", "sync/todo", "sync/projects", "sync/files", "sync/written", "problems/sync",
}

// Spec names a manifest and its columns.
type Spec struct {
	Name    string
	Columns []string
}

// SpecOf returns the Spec of a known manifest.
func SpecOf(name string) (Spec, error) {
	cols, ok := Columns[name]
	if !ok {
		return Spec{}, &UsageError{Msg: fmt.Sprintf("unknown manifest %q; known manifests: %s", name, strings.Join(ManifestNames, ", "))}
	}
	return Spec{Name: name, Columns: slices.Clone(cols)}, nil
}

// MustSpec is SpecOf for names fixed in the code.
func MustSpec(name string) Spec {
	s, err := SpecOf(name)
	if err != nil {
		panic(err)
	}
	return s
}

// Column indexes of the manifests that apply acts on, by name; a test checks
// them against Columns.
const (
	StoragePath, StorageSize, StorageModified, StorageSHA256, StorageHashedAt, StorageInode, StorageCtime, StorageETag, StorageVerified = 0, 1, 2, 3, 4, 5, 6, 7, 8

	DownloadPath, DownloadURL, DownloadSize, DownloadSHA256, DownloadReason, DownloadUploadTime = 0, 1, 2, 3, 4, 5

	DeletePath, DeleteSize, DeleteReason = 0, 1, 2

	RemoveProject, RemovePath = 0, 1

	AppliedPath, AppliedAction, AppliedResult, AppliedError = 0, 1, 2, 3

	ProblemPath, ProblemStage, ProblemError, ProblemFallback = 0, 1, 2, 3

	ProjectName, ProjectNormalized, ProjectMetadataPath, ProjectSerial, ProjectFiles, ProjectDocuments = 0, 1, 2, 3, 4, 5

	DesignatedPath, DesignatedProject = 0, 1
)
