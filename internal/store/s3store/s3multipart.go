package s3store

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/bandercheck/bandercheck/internal/store"
)

const (
	// MaxPutObject is the largest object one PutObject may send (5 GiB);
	// a larger one goes as a multipart upload.
	MaxPutObject = 5 << 30
	// DefaultPartSize is the part size of a multipart upload.
	DefaultPartSize = 64 << 20
	// maxParts is the most parts a multipart upload may have.
	maxParts = 10000
)

// partSizeFor is the part size for an object of size bytes: the store's,
// or larger (a whole MiB) when that would need more than maxParts parts.
func partSizeFor(size, want int64) int64 {
	if need := (size + maxParts - 1) / maxParts; need > want {
		return (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return want
}

// putParts sends the staged file as a multipart upload with the metadata
// bandersnatch writes. Each part carries its own Content-MD5, sha256
// checksum (when the server implements it) and signed payload sha256, all
// read from the staged file just before the part is sent; a part refused as
// altered is sent again, up to corruptAttempts times. On any failure the
// upload is aborted, so no parts are left behind in the bucket. The
// object's ETag is then "md5-of-md5s-N", which --hash=etag does not take
// for a content digest: it falls back to the sha256 metadata or the content.
func (u *s3Upload) putParts(ctx context.Context, size int64, meta map[string]string) error {
	withSHA := uploadChecks.sha256 && !u.m.noChecksum.Load()
	id, withSHA, err := u.createMultipart(ctx, meta, withSHA)
	if err != nil {
		return fmt.Errorf("put %s: start a multipart upload: %w", u.key, err)
	}
	parts, sums, err := u.sendParts(ctx, id, size, withSHA)
	if err == nil {
		var out *s3.CompleteMultipartUploadOutput
		out, err = u.m.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(u.m.bucket), Key: aws.String(u.m.prefix + u.key), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		if err != nil {
			err = fmt.Errorf("put %s: complete the multipart upload: %w", u.key, err)
		} else {
			return u.checkAssembled(ctx, aws.ToString(out.ETag), parts, sums)
		}
	}
	// abort even when ctx was cancelled: parts left behind are billed
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, aerr := u.m.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(u.m.bucket), Key: aws.String(u.m.prefix + u.key), UploadId: aws.String(id),
	}); aerr != nil {
		err = fmt.Errorf("%w (and aborting multipart upload %s failed, its parts may remain: %v)", err, id, aerr)
	}
	return err
}

// checkAssembled checks the ETag CompleteMultipartUpload gave the object
// against the parts sent: where the server's part ETags are the MD5s of the
// parts (S3 unencrypted or SSE-S3, versitygw), the object's is the MD5 of
// those MD5s, "-" and the number of parts. Another means the server
// assembled other bytes (or the answer was altered): the object is deleted
// and the upload fails with a *store.CorruptUploadError, which apply
// reports as a failed row to retry. Where the part ETags are no MD5s
// (SSE-KMS, SSE-C) the object's cannot be foreseen and is not checked; each
// part's Content-MD5 and checksum were; nor is an answer without an ETag.
func (u *s3Upload) checkAssembled(ctx context.Context, etag string, parts []types.CompletedPart, sums [][]byte) error {
	all := md5.New()
	for i, p := range parts {
		if !strings.EqualFold(strings.Trim(aws.ToString(p.ETag), `"`), hex.EncodeToString(sums[i])) {
			return nil
		}
		all.Write(sums[i])
	}
	want := fmt.Sprintf("%x-%d", all.Sum(nil), len(parts))
	got := strings.Trim(etag, `"`)
	if got == "" || strings.EqualFold(got, want) {
		return nil // an answer without an ETag leaves nothing to check
	}
	err := &store.CorruptUploadError{Key: u.key, Err: fmt.Errorf("the multipart object's ETag is %s, not %s (the MD5 of its %d parts' MD5s): the server holds other bytes than were sent", got, want, len(parts))}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, derr := u.m.client.DeleteObject(dctx, &s3.DeleteObjectInput{Bucket: aws.String(u.m.bucket), Key: aws.String(u.m.prefix + u.key)}); derr != nil {
		return fmt.Errorf("%w (and deleting it failed, it remains: %v)", err, derr)
	}
	return err
}

// createMultipart starts a multipart upload, with sha256 checksums unless
// the server says it does not implement them.
func (u *s3Upload) createMultipart(ctx context.Context, meta map[string]string, withSHA bool) (string, bool, error) {
	for {
		in := &s3.CreateMultipartUploadInput{
			Bucket: aws.String(u.m.bucket), Key: aws.String(u.m.prefix + u.key), Metadata: meta,
		}
		if withSHA {
			in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
		}
		out, err := u.m.client.CreateMultipartUpload(ctx, in)
		if err != nil && withSHA && checksumNotImplemented(err) {
			u.m.noChecksum.Store(true)
			withSHA = false
			continue
		}
		if err != nil {
			return "", false, err
		}
		return aws.ToString(out.UploadId), withSHA, nil
	}
}

// sendParts sends the parts one after the other. A part's digests are
// computed from the staged file, so a part altered on the way (or a staged
// file changed since it was hashed whole, which the server would then
// refuse part by part) is refused.
func (u *s3Upload) sendParts(ctx context.Context, id string, size int64, withSHA bool) ([]types.CompletedPart, [][]byte, error) {
	partSize := partSizeFor(size, u.m.partSize)
	var parts []types.CompletedPart
	var sums [][]byte // each part's MD5
	for n, off := int32(1), int64(0); off < size; n, off = n+1, off+partSize {
		length := min(partSize, size-off)
		md5h, shah := md5.New(), sha256.New()
		if _, err := io.Copy(io.MultiWriter(md5h, shah), io.NewSectionReader(u.f, off, length)); err != nil {
			return nil, nil, fmt.Errorf("put %s: read part %d: %w", u.key, n, err)
		}
		md5Sum, shaSum := md5h.Sum(nil), shah.Sum(nil)
		for attempt := 1; ; attempt++ {
			in := &s3.UploadPartInput{
				Bucket: aws.String(u.m.bucket), Key: aws.String(u.m.prefix + u.key), UploadId: aws.String(id),
				PartNumber: aws.Int32(n), Body: io.NewSectionReader(u.f, off, length), ContentLength: aws.Int64(length),
			}
			if uploadChecks.md5 {
				in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(md5Sum))
			}
			if withSHA {
				in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(shaSum))
			}
			payload := "UNSIGNED-PAYLOAD"
			if uploadChecks.payload {
				payload = hex.EncodeToString(shaSum)
			}
			out, err := u.m.client.UploadPart(ctx, in, withPayloadHash(payload))
			if err == nil {
				p := types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)}
				if withSHA {
					p.ChecksumSHA256 = in.ChecksumSHA256
				}
				parts, sums = append(parts, p), append(sums, md5Sum)
				break
			}
			if !isCorruptUpload(err) {
				return nil, nil, fmt.Errorf("put %s: part %d: %w", u.key, n, err)
			}
			if attempt == corruptAttempts || ctx.Err() != nil {
				return nil, nil, &store.CorruptUploadError{Key: u.key, Err: fmt.Errorf("part %d, %d attempts: %w", n, attempt, err)}
			}
		}
	}
	return parts, sums, nil
}
