package s3store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// An endpoint named by an IP address or localhost gets path-style addressing
// without being told (a bucket cannot be a subdomain of it), as in boto3.
// Told otherwise, localhost keeps virtual-hosted style and fails to reach
// the bucket; an IP address gets path style whatever it is told (the SDK's
// own endpoint rules insist).
func TestIPAndLocalhostEndpointsImplyPathStyle(t *testing.T) {
	srv := testutil.Versity(t)
	srv.Bucket(t, "mirror")
	port := srv.Endpoint[strings.LastIndexByte(srv.Endpoint, ':'):]
	ctx := context.Background()
	for _, endpoint := range []string{srv.Endpoint, "http://localhost" + port} {
		opt := srv.Options("mirror", "")
		opt.Endpoint, opt.PathStyle = endpoint, false
		if _, err := s3store.Open(ctx, opt); err != nil {
			t.Errorf("%s without path style: %v", endpoint, err)
		}
		if endpoint == srv.Endpoint {
			continue
		}
		opt.VirtualHost = true
		if _, err := s3store.Open(ctx, opt); err == nil {
			t.Errorf("%s told to keep virtual-hosted style reached the bucket: the setting is ignored", endpoint)
		}
	}
}
