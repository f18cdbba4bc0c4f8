package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
)

// S3BenchCmd measures the S3 references the benchmarks compare against.
type S3BenchCmd struct {
	Mode      string `help:"list: one sequential ListObjectsV2 loop; delete-batch: bandercheck's batched delete of every object under the prefix; delete-single: one DeleteObject call per key." enum:"list,delete-batch,delete-single" required:""`
	Bucket    string `required:""`
	Prefix    string `help:"Key prefix to list or delete (ending in /)." default:"web/packages/"`
	Endpoint  string `env:"BANDERCHECK_S3_ENDPOINT"`
	AccessKey string `env:"AWS_ACCESS_KEY_ID"`
	SecretKey string `env:"AWS_SECRET_ACCESS_KEY"`
}

// Run implements the command; it prints "<objects> <seconds>".
func (c *S3BenchCmd) Run(ctx context.Context) error {
	opt := s3store.Options{Bucket: c.Bucket, Endpoint: c.Endpoint, PathStyle: true, AccessKey: c.AccessKey, SecretKey: c.SecretKey}
	st, err := s3store.Open(ctx, opt)
	if err != nil {
		return err
	}
	client, err := s3store.OpenClient(ctx, opt) // the reference: a plain ListObjectsV2 loop
	if err != nil {
		return err
	}
	start := time.Now()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(c.Bucket), Prefix: aws.String(c.Prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	switch c.Mode {
	case "list":
		fmt.Printf("%d %.3f\n", len(keys), time.Since(start).Seconds())
		return nil
	case "delete-batch":
		start = time.Now()
		errs, err := st.Remove(ctx, keys)
		if err != nil {
			return err
		}
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
	case "delete-single":
		start = time.Now()
		for _, k := range keys {
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(k)}); err != nil {
				return err
			}
		}
	}
	fmt.Printf("%d %.3f\n", len(keys), time.Since(start).Seconds())
	return nil
}
