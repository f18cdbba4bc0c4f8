package s3store

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// listAnswers are ListObjectsV2 pages as servers write them: AWS's form,
// keys XML escapes (&, <, quotes, a character reference, non-ASCII),
// common prefixes, a truncated page, an empty one, self-closing and
// whitespace-laid-out elements, owners and checksums to skip; and pages
// parseListPage leaves to the SDK (a comment, CDATA, URL-encoded keys, a
// raw carriage return, an unknown entity).
var listAnswers = map[string]struct {
	body string
	fast bool // parseListPage reads it
}{
	"aws": {`<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/web/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken><Contents><Key>p/web/packages/aa/bb/x/a&amp;b&lt;c&gt;&quot;d&apos;e&#233;&#x1F600;ü.whl</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType><Size>12345</Size><Owner><ID>abc</ID><DisplayName>me</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>p/web/packages/aa/bb/y/two words.tar.gz</Key><LastModified>2025-12-31T23:59:59Z</LastModified><ETag>"0123456789abcdef0123456789abcdef-2"</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>p/web/packages/aa/bb/z/f</Key><LastModified>2025-12-31T23:59:59.123456789+02:00</LastModified><ETag>&#34;00000000000000000000000000000000&#34;</ETag><Size>9007199254740993</Size></Contents><CommonPrefixes><Prefix>p/web/json/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>p/web/a&amp;b/</Prefix></CommonPrefixes></ListBucketResult>`, true},
	"versitygw": {`<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>etag2000</Name><Prefix>mirror/web/json/</Prefix><NextContinuationToken>mirror/web/json/mgasa</NextContinuationToken><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><Contents><LastModified>2026-12-05T10:18:59Z</LastModified><ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType><ETag>&#34;e65c7d092c03d7cabdc8b63017676f65&#34;</ETag><Key>mirror/web/json/0</Key><Size>5211</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>mirror/web/json/x/</Prefix></CommonPrefixes><EncodingType></EncodingType></ListBucketResult>`, true},
	"laid out": {"<?xml version=\"1.0\"?>\n<ListBucketResult>\n  <Name>b</Name>\n  <Prefix/>\n  <IsTruncated>false</IsTruncated>\n  <Contents>\n    <Key>k</Key>\n    <Size>1</Size>\n    <ETag>\"e\"</ETag>\n    <RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress></RestoreStatus>\n  </Contents>\n</ListBucketResult>\n", true},
	"empty":    {`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>none/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`, true},
	"comment":  {`<ListBucketResult><!-- hi --><Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>`, false},
	"cdata":    {`<ListBucketResult><Contents><Key><![CDATA[a<b]]></Key><Size>1</Size></Contents></ListBucketResult>`, false},
	"url keys": {`<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a%20b</Key><Size>1</Size></Contents></ListBucketResult>`, false},
	"raw cr":   {"<ListBucketResult><Contents><Key>a\r\nb</Key><Size>1</Size></Contents></ListBucketResult>", false},
	"entity":   {`<ListBucketResult><Contents><Key>a&nbsp;b</Key><Size>1</Size></Contents></ListBucketResult>`, false},
}

// TestFastListDecodesAsTheSDK: for every page of listAnswers the store's
// decoder gives what the SDK's own gives (every page field the store or
// the paginator reads: keys, sizes, dates, ETags, prefixes, truncation,
// the next token, the counts), and it reads the pages it should.
func TestFastListDecodesAsTheSDK(t *testing.T) {
	for name, a := range listAnswers {
		t.Run(name, func(t *testing.T) {
			if _, ok := parseListPage([]byte(a.body)); ok != a.fast {
				t.Errorf("parseListPage read it: %v, want %v", ok, a.fast)
			}
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Content-Type", "application/xml")
				fmt.Fprint(w, a.body)
			}))
			defer srv.Close()
			client, err := OpenClient(context.Background(), Options{Bucket: "b", Endpoint: srv.URL, PathStyle: true, AccessKey: "k", SecretKey: "s"})
			if err != nil {
				t.Fatal(err)
			}
			in := &s3.ListObjectsV2Input{Bucket: aws.String("b"), Prefix: aws.String("p/")}
			sdk, serr := client.ListObjectsV2(context.Background(), in)
			fast, ferr := client.ListObjectsV2(context.Background(), in, fastList)
			if serr != nil || ferr != nil { // an entity XML does not know: both refuse it
				if serr == nil || ferr == nil || serr.Error() != ferr.Error() {
					t.Errorf("SDK's decoder: %v; fast: %v", serr, ferr)
				}
				return
			}
			if got, want := pageFields(fast), pageFields(sdk); got != want {
				t.Errorf("fast decoder:\n%s\nSDK's:\n%s", got, want)
			}
			if hits.Load() != 2 {
				t.Errorf("%d requests, want 2", hits.Load())
			}
		})
	}
}

// pageFields prints what a page holds that the store and the paginator read.
func pageFields(o *s3.ListObjectsV2Output) string {
	var b strings.Builder
	fmt.Fprintf(&b, "truncated=%v next=%q keycount=%v\n", aws.ToBool(o.IsTruncated), aws.ToString(o.NextContinuationToken), aws.ToInt32(o.KeyCount))
	for _, c := range o.Contents {
		fmt.Fprintf(&b, "key=%q size=%d modified=%s etag=%q\n", aws.ToString(c.Key), aws.ToInt64(c.Size), aws.ToTime(c.LastModified).UTC().Format("2006-01-02T15:04:05.999999999Z"), aws.ToString(c.ETag))
	}
	for _, p := range o.CommonPrefixes {
		fmt.Fprintf(&b, "prefix=%q\n", aws.ToString(p.Prefix))
	}
	return b.String()
}

// TestFastListKeepsTheSDKsErrors: an error answer (NoSuchBucket, a
// SlowDown the retryer retries) is still the SDK's to read.
func TestFastListKeepsTheSDKsErrors(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<Error><Code>SlowDown</Code><Message>slow</Message></Error>`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<Error><Code>NoSuchBucket</Code><Message>none</Message></Error>`)
	}))
	defer srv.Close()
	client, err := OpenClient(context.Background(), Options{Bucket: "b", Endpoint: srv.URL, PathStyle: true, AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("b")}, fastList)
	if err == nil || !strings.Contains(err.Error(), "NoSuchBucket") || hits.Load() != 2 {
		t.Errorf("err = %v after %d requests; want NoSuchBucket after the SlowDown's retry", err, hits.Load())
	}
	if !reflect.DeepEqual(httpStatus(err), http.StatusNotFound) {
		t.Errorf("status %d, want 404", httpStatus(err))
	}
}
