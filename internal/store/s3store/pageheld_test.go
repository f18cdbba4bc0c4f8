package s3store

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bandercheck/bandercheck/internal/store"
)

// pagedFolder serves web/packages/ as one folder, 00/, of pages pages of
// 1,000 keys each (the continuation token is the page's number).
func pagedFolder(pages int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/xml")
		var b strings.Builder
		b.WriteString(`<ListBucketResult><Name>mirror</Name>`)
		if q.Get("delimiter") == "/" {
			b.WriteString(`<IsTruncated>false</IsTruncated><CommonPrefixes><Prefix>web/packages/00/</Prefix></CommonPrefixes></ListBucketResult>`)
			fmt.Fprint(w, b.String())
			return
		}
		n, _ := strconv.Atoi(q.Get("continuation-token"))
		fmt.Fprintf(&b, `<IsTruncated>%v</IsTruncated>`, n+1 < pages)
		if n+1 < pages {
			fmt.Fprintf(&b, `<NextContinuationToken>%d</NextContinuationToken>`, n+1)
		}
		for i := range 1000 {
			fmt.Fprintf(&b, `<Contents><Key>web/packages/00/%s/f-%07d.tar.gz</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>"0123456789abcdef0123456789abcdef"</ETag><Size>%d</Size></Contents>`, strings.Repeat("ab", 30), n*1000+i, i+1)
		}
		b.WriteString(`</ListBucketResult>`)
		fmt.Fprint(w, b.String())
	}))
}

// listOnly is a store that lists an object at a time: the listing before
// ListBatches.
type listOnly struct{ store.Reader }

// TestListingLetsGoOfEachPage: while a folder's lister waits for the
// consumer (its batches queued), it holds its batches, not the page it
// decoded last. Listing an object at a time, the lister waited inside the
// page's loop, so each waiting lister held a page of the SDK's objects and
// the decoder's arrays (168 bytes a key besides the keys themselves, a
// sixth of what it held): from 10% of PyPI on, when folders hold more than
// a batch, 16 of them, 2.7 MiB of scan storage's live heap. The consumer
// here stops at its first object while the lister fills its look-ahead
// (one batch with the consumer, two queued, the fourth page's waiting to be
// sent); the pages the decoder read are watched through weak pointers.
// Not parallel: it collects the process's garbage.
func TestListingLetsGoOfEachPage(t *testing.T) {
	srv := pagedFolder(6)
	defer srv.Close()
	st, err := Open(context.Background(), Options{Bucket: "mirror", Endpoint: srv.URL, PathStyle: true, AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		r    store.Reader
		held int // pages still referenced once the lister waits
	}{
		{"a page at a time", st, 0},
		{"an object at a time", listOnly{st}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var pages []weak.Pointer[types.Object]
			fourth := make(chan struct{})
			pageListed = func(p *s3.ListObjectsV2Output) {
				if len(p.Contents) == 0 {
					return // web/packages/'s folders
				}
				mu.Lock()
				pages = append(pages, weak.Make(&p.Contents[0]))
				if len(pages) == 4 {
					close(fourth)
				}
				mu.Unlock()
			}
			defer func() { pageListed = nil }()
			alive := func() (listed, alive int) {
				runtime.GC()
				runtime.GC()
				mu.Lock()
				defer mu.Unlock()
				for _, w := range pages {
					if w.Value() != nil {
						alive++
					}
				}
				return len(pages), alive
			}
			n, held := 0, -1
			err := store.ListSorted(context.Background(), c.r, "web/packages/", "", 1, func(o store.Object) error {
				n++
				if n > 1 {
					return nil
				}
				// the lister decodes the fourth page and waits to hand it on;
				// what it holds then stays as it is until this returns. How
				// long the decoding takes depends on the machine's load, so
				// the wait for the fourth page has no limit, and the pages
				// held are read until they are as wanted or 10 s have passed
				<-fourth
				deadline := time.Now().Add(10 * time.Second)
				for held != c.held && time.Now().Before(deadline) {
					_, held = alive()
					time.Sleep(2 * time.Millisecond)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != 6000 {
				t.Fatalf("listed %d objects, want 6000", n)
			}
			if held != c.held {
				t.Errorf("the waiting lister held %d pages, want %d", held, c.held)
			}
		})
	}
}
