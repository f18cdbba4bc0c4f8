package s3store_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
)

// fakeS3 answers HeadBucket, GetObject with a small JSON body and
// ListObjectsV2 with one page of n keys: what the per-request cost of the
// client is measured against, without a server's own CPU.
func fakeS3(b *testing.B, n int) *httptest.Server {
	var page strings.Builder
	page.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>` + fmt.Sprint(n) + `</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`)
	for i := range n {
		fmt.Fprintf(&page, `<Contents><Key>p/web/packages/%02x/%02x/%060x/pkg-%d-1.0-py3-none-any.whl</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&quot;%032x&quot;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>`, i%256, i/256, i, i, i, 1000+i)
	}
	page.WriteString(`</ListBucketResult>`)
	body := []byte(page.String())
	doc := []byte(strings.Repeat(`{"info":{"name":"x"}}`, 100))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodHead:
		case r.URL.Query().Get("list-type") == "2":
			w.Header().Set("Content-Type", "application/xml")
			w.Write(body)
		default:
			w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
			w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
			w.Write(doc)
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchStore(b *testing.B, n int) *s3store.Store {
	srv := fakeS3(b, n)
	st, err := s3store.Open(context.Background(), s3store.Options{Bucket: "b", Prefix: "p", Endpoint: srv.URL, PathStyle: true, AccessKey: "k", SecretKey: "s", Requests: 16})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkGetObject is one small GetObject read to its end.
func BenchmarkGetObject(b *testing.B) {
	st := benchStore(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rc, err := st.Open(ctx, "web/json/x")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
}

// BenchmarkListPage is one ListObjectsV2 page of 1,000 keys, each passed on.
func BenchmarkListPage(b *testing.B) {
	st := benchStore(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := st.List(ctx, "web/packages/", "", func(store.Object) error { n++; return nil }); err != nil || n != 1000 {
			b.Fatal(n, err)
		}
	}
}
