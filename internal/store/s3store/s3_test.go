package s3store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/internal/store/storetest"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// TestConformance runs the store suite on versitygw, under a prefix, with
// bandersnatch's sha256 object metadata on every file.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("S3 conformance runs on versitygw; not in -short")
	}
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T, files map[string]string) store.Store {
			srv := testutil.Versity(t)
			c := srv.Bucket(t, "mirror")
			prefixed := map[string]string{}
			meta := map[string]map[string]string{}
			for k, v := range files {
				prefixed["pypi/"+k] = v
				meta["pypi/"+k] = map[string]string{"sha256": "feed" + fmt.Sprint(len(v))}
			}
			prefixed["pypi/web/packages/.s3keep"] = ""
			testutil.Put(t, c, "mirror", prefixed, meta)
			st, err := s3store.Open(context.Background(), srv.Options("mirror", "pypi"))
			if err != nil {
				t.Fatal(err)
			}
			st.StageUploadsIn(t.TempDir())
			return st
		},
		StoredSHA256: func(content string) string { return "feed" + fmt.Sprint(len(content)) },
	})
}
