package s3store_test

import (
	"context"
	"fmt"
	"strings"
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

// TestListPageListsOnePageOfNKeys: ListPage sends one request for at most n
// keys after startAfter (calibration's sample), however many follow.
func TestListPageListsOnePageOfNKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("on versitygw; not in -short")
	}
	srv := testutil.Versity(t)
	c := srv.Bucket(t, "mirror")
	files := map[string]string{}
	for i := range 30 {
		files[fmt.Sprintf("pypi/web/packages/%02d/f", i)] = "x"
	}
	testutil.Put(t, c, "mirror", files, nil)
	st, err := s3store.Open(context.Background(), srv.Options("mirror", "pypi"))
	if err != nil {
		t.Fatal(err)
	}
	fallbacks := s3store.ListFallbacks()
	var got []string
	if err := st.ListPage(context.Background(), "web/packages/", "web/packages/04/f", 5, func(o store.Object) error {
		got = append(got, o.Key)
		if o.ETag == "" || o.Size != 1 {
			t.Errorf("%s listed without its ETag or size: %+v", o.Key, o)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "web/packages/05/f web/packages/06/f web/packages/07/f web/packages/08/f web/packages/09/f"
	if strings.Join(got, " ") != want {
		t.Errorf("ListPage = %v, want %s", got, want)
	}
	// versitygw's pages are read by the store's decoder, not the SDK's
	// (an empty <EncodingType> once sent every page to the SDK's)
	if _, _, err := st.Children(context.Background(), "web/"); err != nil {
		t.Fatal(err)
	}
	if err := st.List(context.Background(), "web/", "", func(store.Object) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := s3store.ListFallbacks() - fallbacks; n != 0 {
		t.Errorf("%d of versitygw's pages went to the SDK's decoder", n)
	}
}
