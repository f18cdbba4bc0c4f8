package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"golang.org/x/sync/errgroup"
)

// UploadCmd uploads a mirror folder to S3 (links become copies).
type UploadCmd struct {
	From      string `help:"Mirror folder." required:""`
	Bucket    string `help:"Bucket (created when missing)." required:""`
	Prefix    string `help:"Key prefix of the mirror root."`
	Endpoint  string `help:"S3 endpoint." env:"BANDERCHECK_S3_ENDPOINT"`
	AccessKey string `env:"AWS_ACCESS_KEY_ID"`
	SecretKey string `env:"AWS_SECRET_ACCESS_KEY"`
	Jobs      int    `default:"16"`
}

// Run implements the command.
func (c *UploadCmd) Run(ctx context.Context) error {
	client, err := s3store.OpenClient(ctx, s3store.Options{Bucket: c.Bucket, Endpoint: c.Endpoint, PathStyle: true, AccessKey: c.AccessKey, SecretKey: c.SecretKey})
	if err != nil {
		return err
	}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(c.Bucket)}); err != nil {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(c.Bucket)}); err != nil {
			return fmt.Errorf("create bucket %s: %w", c.Bucket, err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.Jobs)
	err = filepath.WalkDir(c.From, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || gctx.Err() != nil {
			return err
		}
		rel, _ := filepath.Rel(c.From, path)
		key := strings.Trim(c.Prefix+"/"+filepath.ToSlash(rel), "/")
		g.Go(func() error {
			data, err := os.ReadFile(path) // follows links: S3 holds copies
			if err != nil {
				return err
			}
			var meta map[string]string
			if strings.Contains(key, "web/packages/") {
				s := sha256.Sum256(data)
				meta = map[string]string{"sha256": hex.EncodeToString(s[:])}
			}
			_, err = client.PutObject(gctx, &s3.PutObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(key), Body: strings.NewReader(string(data)), Metadata: meta})
			return err
		})
		return nil
	})
	return errors.Join(err, g.Wait())
}
