package pipeline

import (
	"slices"
	"testing"
)

func TestColumnIndexesMatchTheSchema(t *testing.T) {
	for _, c := range []struct {
		manifest, column string
		index            int
	}{
		{"storage", "path", StoragePath}, {"storage", "size", StorageSize}, {"storage", "modified", StorageModified},
		{"storage", "sha256", StorageSHA256}, {"storage", "hashed_at", StorageHashedAt}, {"storage", "inode", StorageInode},
		{"storage", "ctime", StorageCtime}, {"storage", "etag", StorageETag}, {"storage", "verified", StorageVerified},
		{"plan/download", "path", DownloadPath}, {"plan/download", "url", DownloadURL},
		{"plan/download", "size", DownloadSize}, {"plan/download", "sha256", DownloadSHA256},
		{"plan/download", "reason", DownloadReason}, {"plan/download", "upload_time", DownloadUploadTime},
		{"plan/delete", "path", DeletePath}, {"plan/delete", "size", DeleteSize}, {"plan/delete", "reason", DeleteReason},
		{"plan/remove-projects", "project", RemoveProject}, {"plan/remove-projects", "path", RemovePath},
		{"applied/download", "path", AppliedPath}, {"applied/download", "action", AppliedAction},
		{"applied/download", "result", AppliedResult}, {"applied/download", "error", AppliedError},
		{"problems/metadata", "path", ProblemPath}, {"problems/metadata", "stage", ProblemStage},
		{"problems/metadata", "error", ProblemError}, {"problems/metadata", "fallback", ProblemFallback},
		{"projects", "project", ProjectName}, {"projects", "normalized", ProjectNormalized},
		{"projects", "metadata_path", ProjectMetadataPath}, {"projects", "serial", ProjectSerial},
		{"projects", "files", ProjectFiles}, {"projects", "documents", ProjectDocuments},
		{"designated", "path", DesignatedPath}, {"designated", "project", DesignatedProject},
	} {
		if got := slices.Index(Columns[c.manifest], c.column); got != c.index {
			t.Errorf("%s column %s is at %d, the constant says %d", c.manifest, c.column, got, c.index)
		}
	}
}
