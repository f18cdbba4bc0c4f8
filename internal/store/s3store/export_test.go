package s3store

// SetUploadChecks chooses the digests a PutObject carries (the signed
// payload sha256, Content-MD5, x-amz-checksum-sha256) and returns the
// function that restores them.
func SetUploadChecks(payload, md5, sha256 bool) (restore func()) {
	old := uploadChecks
	uploadChecks.payload, uploadChecks.md5, uploadChecks.sha256 = payload, md5, sha256
	return func() { uploadChecks = old }
}

// ListFallbacks is how many listing pages the SDK's decoder read because
// the store's own did not.
func ListFallbacks() int64 { return listFallbacks.Load() }
