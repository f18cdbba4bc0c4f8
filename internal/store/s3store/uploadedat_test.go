package s3store

import (
	"testing"
	"time"
)

// UploadedAt writes what bandersnatch's S3 backend stores: Python's repr of
// upload_time.timestamp(), also from a POSIX mtime's float-rounded nanoseconds.
func TestUploadedAt(t *testing.T) {
	for ns, want := range map[int64]string{
		1581537968580456972: "1581537968.580457", // os.utime's mtime of .580457
		1581537968580457000: "1581537968.580457",
		1577934245000000000: "1577934245.0",
		1577934245100000000: "1577934245.1",
	} {
		if got := UploadedAt(time.Unix(0, ns)); got != want {
			t.Errorf("UploadedAt(%d) = %s, want %s", ns, got, want)
		}
	}
}
