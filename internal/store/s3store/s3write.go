package s3store

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/bandercheck/bandercheck/internal/store"
)

// deleteBatch is the most keys one DeleteObjects call takes.
const deleteBatch = 1000

// StageUploadsIn sets the local folder where Create stages a file before
// sending it (apply uses STATE/tmp/uploads).
func (s *Store) StageUploadsIn(dir string) { s.stageDir = dir }

type s3Upload struct {
	m    *Store
	f    *os.File
	key  string
	meta store.Meta
	md5  hash.Hash // of the bytes staged, for Content-MD5
	sha  hash.Hash // of the bytes staged, for x-amz-checksum-sha256 and the signed payload
}

// Create implements Mirror: content is staged in a local file, hashed with
// MD5 and sha256 on the way, and sent on Commit, with the
// sha256 and uploaded-at metadata that bandersnatch's S3 backend writes.
func (m *Store) Create(ctx context.Context, key string, meta store.Meta) (store.Upload, error) {
	if err := os.MkdirAll(m.stageDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(m.stageDir, "upload-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", key, err)
	}
	return &s3Upload{m: m, f: f, key: key, meta: meta, md5: md5.New(), sha: sha256.New()}, nil
}

func (u *s3Upload) Write(p []byte) (int, error) {
	n, err := u.f.Write(p)
	u.md5.Write(p[:n])
	u.sha.Write(p[:n])
	return n, err
}

// uploadChecks are the digests a PutObject carries for the server to check
// the body against; tests turn them off one by one.
var uploadChecks = struct{ payload, md5, sha256 bool }{true, true, true}

// corruptAttempts is how many times Commit sends a body the server refused
// as altered on the way before it gives up with a *store.CorruptUploadError.
const corruptAttempts = 3

// Commit sends the staged file in one PutObject (one part, so its ETag is
// the MD5 of its bytes), or, above Options.MultipartAbove (by default 5 GiB,
// the most one PutObject may send), as a multipart upload (putParts). The
// server checks each body three ways: Content-MD5; x-amz-checksum-sha256,
// unless the server said it does not implement it; and the sha256 of the
// payload in the signature, which the SDK otherwise leaves unsigned over
// https. A body refused as altered is sent again from the staged file, up
// to corruptAttempts times.
func (u *s3Upload) Commit(ctx context.Context) error {
	defer u.Abort()
	size, err := u.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("put %s: %w", u.key, err)
	}
	shaSum := u.sha.Sum(nil)
	if want := u.meta.SHA256; want != "" && !strings.EqualFold(want, hex.EncodeToString(shaSum)) {
		return fmt.Errorf("put %s: the staged bytes have sha256 %x, not the %s given", u.key, shaSum, want)
	}
	meta := map[string]string{}
	if u.meta.SHA256 != "" {
		meta["sha256"] = u.meta.SHA256
	}
	if !u.meta.Uploaded.IsZero() {
		meta["uploaded-at"] = UploadedAt(u.meta.Uploaded)
	}
	if size > u.m.multipartAbove {
		return u.putParts(ctx, size, meta)
	}
	for attempt := 1; ; attempt++ {
		err = u.put(ctx, size, u.md5.Sum(nil), shaSum, meta)
		if err == nil {
			return nil
		}
		if !isCorruptUpload(err) {
			return fmt.Errorf("put %s: %w", u.key, err)
		}
		if attempt == corruptAttempts || ctx.Err() != nil {
			return &store.CorruptUploadError{Key: u.key, Err: fmt.Errorf("%d attempts: %w", attempt, err)}
		}
	}
}

// put sends the staged file once. A server that does not implement
// x-amz-checksum-sha256 is sent the body again without it, and never again
// with it.
func (u *s3Upload) put(ctx context.Context, size int64, md5Sum, shaSum []byte, meta map[string]string) error {
	for {
		if _, err := u.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		in := &s3.PutObjectInput{
			Bucket: aws.String(u.m.bucket), Key: aws.String(u.m.prefix + u.key),
			Body: u.f, ContentLength: aws.Int64(size), Metadata: meta,
		}
		if uploadChecks.md5 {
			in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(md5Sum))
		}
		withSHA := uploadChecks.sha256 && !u.m.noChecksum.Load()
		if withSHA {
			in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(shaSum))
		}
		payload := "UNSIGNED-PAYLOAD"
		if uploadChecks.payload {
			payload = hex.EncodeToString(shaSum)
		}
		_, err := u.m.client.PutObject(ctx, in, withPayloadHash(payload))
		if err != nil && withSHA && checksumNotImplemented(err) {
			u.m.noChecksum.Store(true)
			continue
		}
		return err
	}
}

// withPayloadHash gives the SDK the payload's sha256, computed while the
// file was staged: it signs it instead of reading the file once more to
// hash it (http), or of sending UNSIGNED-PAYLOAD (https).
func withPayloadHash(sum string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("bandercheckPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, sum), in)
				}), "ComputePayloadHash", middleware.Before)
		})
	}
}

// isCorruptUpload tells a PUT the server refused because the body it
// received does not match the digests sent with it.
func isCorruptUpload(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "BadDigest", "XAmzContentSHA256Mismatch", "XAmzContentChecksumMismatch":
		return true
	}
	return false
}

// checksumNotImplemented tells the answer of a server that does not
// implement x-amz-checksum-sha256.
func checksumNotImplemented(err error) bool {
	if httpStatus(err) == http.StatusNotImplemented {
		return true
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	msg := strings.ToLower(ae.ErrorMessage())
	switch ae.ErrorCode() {
	case "NotImplemented":
		return true
	case "InvalidArgument", "InvalidRequest":
		return strings.Contains(msg, "checksum")
	}
	return false
}

func (u *s3Upload) Abort() error {
	_ = u.f.Close()
	if err := os.Remove(u.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Remove implements Mirror with DeleteObjects batches of up to 1,000 keys,
// checking the per-key errors of each answer.
func (m *Store) Remove(ctx context.Context, keys []string) ([]error, error) {
	errs := make([]error, len(keys))
	for start := 0; start < len(keys); start += deleteBatch {
		end := min(start+deleteBatch, len(keys))
		objs := make([]types.ObjectIdentifier, 0, end-start)
		index := map[string]int{}
		for i := start; i < end; i++ {
			full := m.prefix + keys[i]
			objs = append(objs, types.ObjectIdentifier{Key: aws.String(full)})
			index[full] = i
		}
		out, err := m.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(m.bucket), Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return errs, fmt.Errorf("delete %d objects from s3://%s: %w", len(objs), m.bucket, err)
		}
		for _, e := range out.Errors {
			i, ok := index[aws.ToString(e.Key)]
			if !ok || aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			errs[i] = fmt.Errorf("%s: %s", aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return errs, nil
}

// RemoveTree implements Mirror.
func (m *Store) RemoveTree(ctx context.Context, prefix string) error {
	var batch []string
	flush := func() error {
		errs, err := m.Remove(ctx, batch)
		if err != nil {
			return err
		}
		batch = batch[:0]
		return errors.Join(errs...)
	}
	err := m.List(ctx, prefix, "", func(o store.Object) error {
		batch = append(batch, o.Key)
		if len(batch) == deleteBatch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", prefix, err)
	}
	return nil
}

// Lock implements Mirror: S3 has no flock, so apply refuses while the .lock
// object that bandersnatch writes during a sync exists.
func (m *Store) Lock(ctx context.Context) (func() error, error) {
	_, err := m.Stat(ctx, ".lock")
	if err == nil {
		return nil, &store.LockedError{Msg: fmt.Sprintf("the mirror is locked (%s.lock exists, a bandersnatch sync is running): run apply again after it finishes", m)}
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("check the mirror lock: %w", err)
	}
	return func() error { return nil }, nil
}

// Present implements Mirror: the listing's size, then bandersnatch's sha256
// metadata, else the content.
func (m *Store) Present(ctx context.Context, key string, size int64, sum string) (bool, error) {
	o, err := m.Stat(ctx, key)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if size >= 0 && o.Size != size {
		return false, nil
	}
	if sum == "" {
		return true, nil
	}
	if stored, err := m.StoredSHA256(ctx, key); err == nil && stored != "" {
		return stored == sum, nil
	}
	got, err := store.HashContent(ctx, m, key)
	return err == nil && got == sum, nil // unreadable: fetch it again
}

// UploadedAt is the "uploaded-at" metadata bandersnatch's S3 backend writes:
// str(upload_time.timestamp()), Python's repr of the float seconds
// ("1581537968.580457", "1577934245.0"). t may carry the float-rounded
// nanoseconds of a POSIX mtime: it is taken to the nearest microsecond.
func UploadedAt(t time.Time) string {
	us := t.UnixNano() / 1000
	if r := t.UnixNano() % 1000; r >= 500 {
		us++
	} else if r <= -500 {
		us--
	}
	s := strconv.FormatFloat(float64(us)/1e6, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
