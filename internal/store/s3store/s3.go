package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/bandercheck/bandercheck/internal/store"
)

// Options configure an Store.
type Options struct {
	Bucket    string
	Prefix    string // the mirror root under the bucket, without slashes at the ends
	Endpoint  string // empty for AWS
	Region    string // us-east-1 when empty
	PathStyle bool   // path-style addressing (http://host/bucket/key)
	// VirtualHost keeps virtual-hosted addressing (http://bucket.host/key)
	// for a localhost endpoint, which otherwise implies path style, as in
	// boto3 (an IP address gets path style whatever it is told: the SDK's
	// endpoint rules insist)
	VirtualHost bool
	AccessKey   string // with SecretKey; empty to use the standard AWS chain
	SecretKey   string
	// Requests caps the requests in flight at once, across every goroutine
	// that uses the client (DefaultRequests when 0); the connection pool is
	// sized to match.
	Requests int
	// MultipartAbove is the size above which an upload goes as a multipart
	// upload: MaxPutObject (the most one PutObject may send) when 0. Below
	// it an object is one PutObject, so its ETag stays the MD5 of its bytes.
	// Tests lower it to force a multipart upload of a small object.
	MultipartAbove int64
	// PartSize is the size of each part of a multipart upload (the last may
	// be smaller): DefaultPartSize when 0, and larger when the object would
	// need more than 10,000 parts.
	PartSize int64
	// MaxBackoff is the longest wait between two attempts of one request
	// (DefaultMaxBackoff when 0); the wait before attempt k is drawn from
	// [0, min(2^k s, MaxBackoff)). Tests shorten it: their faults are injected.
	MaxBackoff time.Duration
}

// DefaultRequests is how many S3 requests are in flight at once when not
// told: measured to saturate 20 ms of latency on two cores (issue 14).
const DefaultRequests = 256

// DefaultMaxBackoff is the longest wait between two attempts of one request.
const DefaultMaxBackoff = 5 * time.Second

// Store is a mirror under an S3 prefix.
type Store struct {
	client   *s3.Client
	http     *http.Client // what client sends through, to close its idle connections; nil: not ours
	requests int
	bucket   string
	prefix   string // "" or "prefix/"
	stageDir string // where Create stages files (os.TempDir() when "")
	// noChecksum is set once the server said it does not implement
	// x-amz-checksum-sha256: uploads then go without it
	noChecksum atomic.Bool
	// multipartAbove and partSize are Options.MultipartAbove and PartSize
	multipartAbove, partSize int64
}

var _ store.Store = (*Store)(nil)

// Open connects to the bucket and checks that it can be reached.
func Open(ctx context.Context, opt Options) (*Store, error) {
	client, hc, err := openClient(ctx, opt)
	if err != nil {
		return nil, err
	}
	st := &Store{client: client, http: hc, bucket: opt.Bucket, requests: requestsOf(opt),
		multipartAbove: opt.MultipartAbove, partSize: opt.PartSize}
	if st.multipartAbove <= 0 {
		st.multipartAbove = MaxPutObject
	}
	if st.partSize <= 0 {
		st.partSize = DefaultPartSize
	}
	if p := strings.Trim(opt.Prefix, "/"); p != "" {
		st.prefix = p + "/"
	}
	if err := haveCredentials(ctx, client); err != nil {
		return nil, fmt.Errorf("s3 bucket %s at %s: no credentials (%v): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or [s3] aws_access_key_id and aws_secret_access_key in the config", opt.Bucket, endpointName(opt.Endpoint), err)
	}
	// a few attempts, not the scans' ten: a wrong endpoint is told in seconds
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(opt.Bucket)}, func(o *s3.Options) { o.RetryMaxAttempts = 2 }); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ne *net.OpError
		if errors.As(err, &ne) {
			return nil, fmt.Errorf("s3 endpoint %s cannot be reached (%v): check --s3-endpoint (or [s3] endpoint_url in the config) and that the server is up", endpointName(opt.Endpoint), ne.Err)
		}
		switch httpStatus(err) {
		case http.StatusNotFound:
			return nil, fmt.Errorf("s3 bucket %s does not exist at %s: check --mirror and --s3-endpoint", opt.Bucket, endpointName(opt.Endpoint))
		case http.StatusForbidden, http.StatusUnauthorized:
			return nil, fmt.Errorf("s3 bucket %s at %s refused these credentials: check the access key and secret (config [s3] or the AWS environment)", opt.Bucket, endpointName(opt.Endpoint))
		}
		return nil, fmt.Errorf("s3 bucket %s at %s: %w", opt.Bucket, endpointName(opt.Endpoint), err)
	}
	return st, nil
}

// Close closes the store's idle connections. A stage closes its store when
// it ends: otherwise a pool of up to Requests idle connections, with two
// goroutines and their buffers each, stays in the heap of the stages after
// it in the same process (run). The store can still be used after Close; it
// opens connections anew.
func (s *Store) Close() error {
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
	return nil
}

// Requests is how many requests the store sends at once: a stage that waits
// on S3 (HEAD, GET) runs that many workers, whatever its CPU-bound --jobs.
func (s *Store) Requests() int { return s.requests }

func requestsOf(opt Options) int {
	if opt.Requests > 0 {
		return opt.Requests
	}
	return DefaultRequests
}

// OpenClient builds an S3 client as bandercheck configures it: endpoint and
// path style from the options; up to 10 attempts a request with jittered
// backoff; at most opt.Requests requests in flight, a window that halves on
// SlowDown and grows back as requests succeed (requestWindow); a connection
// pool as large; checksums only when required.
func OpenClient(ctx context.Context, opt Options) (*s3.Client, error) {
	c, _, err := openClient(ctx, opt)
	return c, err
}

// sameMethodRedirects follows only the redirects that keep the method and
// body (307, 308), as the SDK's own client does.
func sameMethodRedirects(r *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if r.Response != nil && (r.Response.StatusCode == http.StatusTemporaryRedirect || r.Response.StatusCode == http.StatusPermanentRedirect) {
		return nil
	}
	return http.ErrUseLastResponse
}

// openClient is OpenClient, with the HTTP client it sends through (nil
// when the SDK was given another).
func openClient(ctx context.Context, opt Options) (*s3.Client, *http.Client, error) {
	region := opt.Region
	if region == "" {
		region = "us-east-1"
	}
	n := requestsOf(opt)
	window := newRequestWindow(n)
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = n, n
	})
	loads := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithHTTPClient(httpClient),
		config.WithLogger(logging.Nop{}), // failures are returned, and said once
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = 10
				so.MaxBackoff = DefaultMaxBackoff
				if opt.MaxBackoff > 0 {
					so.MaxBackoff = opt.MaxBackoff
				}
				// no retry quota: a long scan meets many SlowDowns and must
				// retry them all; the request window below slows it down
				so.RateLimiter = ratelimit.None
			})
		}),
	}
	if opt.AccessKey != "" {
		loads = append(loads, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(opt.AccessKey, opt.SecretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, nil, fmt.Errorf("s3 configuration: %w", err)
	}
	var hc *http.Client
	if b, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		// the transport as configured (pool size, the SDK's dialer, a CA
		// bundle), held as an *http.Client: its idle connections can then
		// be closed (Store.Close), which the SDK's own wrapper cannot
		hc = &http.Client{Transport: b.GetTransport(), CheckRedirect: sameMethodRedirects}
		cfg.HTTPClient = hc
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opt.Endpoint != "" {
			o.BaseEndpoint = aws.String(opt.Endpoint)
		}
		o.UsePathStyle = opt.PathStyle || !opt.VirtualHost && impliesPathStyle(opt.Endpoint)
		o.APIOptions = append(o.APIOptions, limitRequests(window))
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return client, hc, nil
}

// haveCredentials asks the client's credential chain once, for a few
// seconds at most: on a machine without credentials the chain's last link
// asks the EC2 instance metadata service, which elsewhere never answers.
func haveCredentials(ctx context.Context, client *s3.Client) error {
	creds := client.Options().Credentials
	if creds == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := creds.Retrieve(ctx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return errors.New("none in the environment or the AWS files, and the EC2 instance metadata service did not answer")
	}
	if err != nil {
		return errors.New("none in the environment, the AWS files or the EC2 instance metadata service")
	}
	return nil
}

// impliesPathStyle tells whether an endpoint URL names its host by an IP
// address or as localhost: no bucket can be a subdomain of it.
func impliesPathStyle(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || strings.HasSuffix(h, ".localhost") || net.ParseIP(h) != nil
}

func endpointName(e string) string {
	if e == "" {
		return "AWS"
	}
	return e
}

// httpStatus returns the HTTP status of an SDK error, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isNotFound tells missing keys from other errors.
func isNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
		return true
	}
	return httpStatus(err) == http.StatusNotFound
}

// String implements Store.
func (s *Store) String() string { return "s3://" + s.bucket + "/" + s.prefix }

// List implements Store.
func (s *Store) List(ctx context.Context, prefix, startAfter string, fn func(store.Object) error) error {
	pages := s.listPages(prefix, startAfter)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, fastList)
		if err != nil {
			return s.listErr(prefix, err)
		}
		for _, o := range page.Contents {
			if obj, ok := s.object(o); ok {
				if err := fn(obj); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// listPages is the paginator of a listing of prefix from after startAfter.
func (s *Store) listPages(prefix, startAfter string) *s3.ListObjectsV2Paginator {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix)}
	if startAfter > prefix {
		in.StartAfter = aws.String(s.prefix + startAfter)
	}
	return s3.NewListObjectsV2Paginator(s.client, in)
}

func (s *Store) listErr(prefix string, err error) error {
	return fmt.Errorf("list s3://%s/%s%s: %w", s.bucket, s.prefix, prefix, err)
}

// object is a listed object as a store.Object, false for a folder marker.
func (s *Store) object(o types.Object) (store.Object, bool) {
	key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
	if strings.HasSuffix(key, "/") {
		return store.Object{}, false // a folder marker, not a file
	}
	return store.Object{Key: key, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag)}, true
}

// ListBatches implements store.BatchLister: each page's objects in a
// slice of their own, the page let go before fn runs.
func (s *Store) ListBatches(ctx context.Context, prefix, startAfter string, fn func([]store.Object) error) error {
	pages := s.listPages(prefix, startAfter)
	for pages.HasMorePages() {
		batch, err := s.nextBatch(ctx, pages, prefix)
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
		}
	}
	return nil
}

// nextBatch is the objects of the next page (folder markers left out), in a
// slice of their own: the page is not referenced once it returns.
func (s *Store) nextBatch(ctx context.Context, pages *s3.ListObjectsV2Paginator, prefix string) ([]store.Object, error) {
	page, err := pages.NextPage(ctx, fastList)
	if err != nil {
		return nil, s.listErr(prefix, err)
	}
	batch := make([]store.Object, 0, len(page.Contents))
	for _, o := range page.Contents {
		if obj, ok := s.object(o); ok {
			batch = append(batch, obj)
		}
	}
	return batch, nil
}

var _ store.BatchLister = (*Store)(nil)

// ListPage implements store.PageLister: one ListObjectsV2 request of at
// most n keys.
func (s *Store) ListPage(ctx context.Context, prefix, startAfter string, n int, fn func(store.Object) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix), MaxKeys: aws.Int32(int32(min(max(n, 1), 1000)))}
	if startAfter > prefix {
		in.StartAfter = aws.String(s.prefix + startAfter)
	}
	page, err := s.client.ListObjectsV2(ctx, in, fastList)
	if err != nil {
		return fmt.Errorf("list s3://%s/%s%s: %w", s.bucket, s.prefix, prefix, err)
	}
	for _, o := range page.Contents {
		key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
		if strings.HasSuffix(key, "/") {
			continue
		}
		if err := fn(store.Object{Key: key, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag)}); err != nil {
			return err
		}
	}
	return nil
}

var _ store.PageLister = (*Store)(nil)

// Children implements Store.
func (s *Store) Children(ctx context.Context, prefix string) ([]string, []store.Object, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix), Delimiter: aws.String("/")}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	var dirs []string
	var objs []store.Object
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, fastList)
		if err != nil {
			return nil, nil, fmt.Errorf("list s3://%s/%s%s: %w", s.bucket, s.prefix, prefix, err)
		}
		for _, p := range page.CommonPrefixes {
			dirs = append(dirs, strings.TrimPrefix(aws.ToString(p.Prefix), s.prefix))
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if strings.HasSuffix(key, "/") {
				continue
			}
			objs = append(objs, store.Object{Key: key, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag)})
		}
	}
	return dirs, objs, nil
}

// Open implements Store.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get %s: %w", key, os.ErrNotExist)
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return out.Body, nil
}

func (s *Store) head(ctx context.Context, key string) (*s3.HeadObjectOutput, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("head %s: %w", key, os.ErrNotExist)
		}
		return nil, fmt.Errorf("head %s: %w", key, err)
	}
	return out, nil
}

// Stat implements Store.
func (s *Store) Stat(ctx context.Context, key string) (store.Object, error) {
	out, err := s.head(ctx, key)
	if err != nil {
		return store.Object{}, err
	}
	return store.Object{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified), ETag: aws.ToString(out.ETag)}, nil
}

// StoredSHA256 implements Store: bandersnatch keeps it as the object's "sha256" metadata.
func (s *Store) StoredSHA256(ctx context.Context, key string) (string, error) {
	out, err := s.head(ctx, key)
	if err != nil {
		return "", err
	}
	for k, v := range out.Metadata {
		if strings.EqualFold(k, "sha256") {
			return strings.ToLower(v), nil
		}
	}
	return "", nil
}

// Names implements Store.
func (s *Store) Names(ctx context.Context, prefix string, fn func(name string, dir bool) error) error {
	return s.NameObjects(ctx, prefix, func(name string, dir bool, _ store.Object) error { return fn(name, dir) })
}

// NameObjects is Names that also passes each object as listed (its size,
// date and ETag; zero for a folder), at no extra request: the listing
// carries them.
func (s *Store) NameObjects(ctx context.Context, prefix string, fn func(name string, dir bool, o store.Object) error) error {
	full := s.prefix + prefix
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(full), Delimiter: aws.String("/")}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, fastList)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", s.bucket, full, err)
		}
		for _, p := range page.CommonPrefixes {
			if err := fn(strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), full), "/"), true, store.Object{}); err != nil {
				return err
			}
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), full)
			if name == "" || strings.HasSuffix(name, "/") {
				continue
			}
			obj := store.Object{Key: prefix + name, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag)}
			if err := fn(name, false, obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// DotNames is Names for the names beginning with "." only: one listing of
// prefix+"." instead of the whole folder (web/json/ holds a name per
// project: 886,000 keys and 900 requests, for the few temp files a killed
// sync leaves).
func (s *Store) DotNames(ctx context.Context, prefix string, fn func(name string, dir bool) error) error {
	full := s.prefix + prefix
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(full + "."), Delimiter: aws.String("/")}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, fastList)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s.: %w", s.bucket, full, err)
		}
		for _, p := range page.CommonPrefixes {
			if err := fn(strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), full), "/"), true); err != nil {
				return err
			}
		}
		for _, o := range page.Contents {
			if err := fn(strings.TrimPrefix(aws.ToString(o.Key), full), false); err != nil {
				return err
			}
		}
	}
	return nil
}

// Modified implements Store with one flat listing.
func (s *Store) Modified(ctx context.Context, prefix string, fn func(string, time.Time) error) error {
	return s.List(ctx, prefix, "", func(o store.Object) error { return fn(o.Key, o.Modified) })
}

// HasFolder implements Store: one listing of at most one key.
func (s *Store) HasFolder(ctx context.Context, prefix string) (bool, error) {
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix), MaxKeys: aws.Int32(1)}, fastList)
	if err != nil {
		return false, fmt.Errorf("list s3://%s/%s%s: %w", s.bucket, s.prefix, prefix, err)
	}
	return len(out.Contents) > 0, nil
}

// Hash implements Store: one GetObject, streamed through sha256 with buf;
// the object as described by the response.
func (s *Store) Hash(ctx context.Context, key string, buf []byte) (store.Object, string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if isNotFound(err) {
			return store.Object{}, "", fmt.Errorf("get %s: %w", key, os.ErrNotExist)
		}
		return store.Object{}, "", fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	o := store.Object{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified), Kind: store.Regular, ETag: aws.ToString(out.ETag)}
	h := sha256.New()
	n, err := io.CopyBuffer(h, out.Body, buf)
	if err != nil {
		return o, "", fmt.Errorf("hash %s: %w", key, err)
	}
	o.Size = n
	return o, hex.EncodeToString(h.Sum(nil)), nil
}

// HashChunk is the read buffer Hash wants: an HTTP body gives what the
// socket holds, a few tens of KiB a read, so a larger one only costs memory
// in each of the hundreds of requests in flight.
func (s *Store) HashChunk() int { return 64 << 10 }
