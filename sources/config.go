package sources

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/bandercheck/bandercheck/internal/configparser"
	"github.com/bandercheck/bandercheck/internal/filters"
	"github.com/bandercheck/bandercheck/internal/safefs"
)

// Config is what bandercheck takes from a bandersnatch.conf: where the
// mirror is, and every key that decides what it should hold, with
// bandersnatch 8's defaults where a key is absent.
type Config struct {
	Given       bool   // a file was read; the zero Config stands for none
	Directory   string // [mirror] directory
	S3          bool   // [mirror] storage-backend = s3
	HashIndex   bool   // [mirror] hash-index
	Master      string // [mirror] master
	S3Endpoint  string // [s3] endpoint_url
	S3Region    string // [s3] region_name
	S3AccessKey string // [s3] aws_access_key_id
	S3SecretKey string // [s3] aws_secret_access_key

	JSON                     bool   // [mirror] json (default false): web/json is kept
	ReleaseFiles             bool   // [mirror] release-files (default true)
	SimpleFormat             string // [mirror] simple-format: ALL (default), HTML or JSON
	CoreMetadata             bool   // [mirror] core-metadata (default true): PEP 658 .metadata files are kept
	DigestName               string // [mirror] digest_name (default sha256)
	DownloadMirror           string // [mirror] download-mirror
	DownloadMirrorNoFallback bool   // [mirror] download-mirror-no-fallback
	RootURI                  string // [mirror] root_uri: absolute prefix of simple page links (sync)
	KeepIndexVersions        int    // [mirror] keep_index_versions: versioned simple pages (sync)

	Filters *filters.Set // [plugins] enabled and each plugin's settings

	Sync SyncSettings // how a sync talks to upstream (workers, timeouts, stop-on-error, ...)
}

// digestNames are the hashlib algorithms bandersnatch's digest_name may name.
var digestNames = []string{"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_224", "sha3_256",
	"sha3_384", "sha3_512", "blake2b", "blake2s", "sha512_224", "sha512_256"}

// bandersnatchDefaults are the [mirror] values bandersnatch 8 reads before
// the operator's file (its defaults.conf): a key the file leaves out takes
// them, and a %(key)s reference can name them. (master is left out: where
// the file names none, bandercheck asks for --upstream rather than assume.)
const bandersnatchDefaults = `[mirror]
storage-backend = filesystem
storage-filesystem-manage-permissions = true
proxy =
download-mirror =
download-mirror-no-fallback = false
allow-non-https = false
json = false
release-files = true
core-metadata = true
hash-index = false
simple-format = ALL
compare-method = hash
digest_name = sha256
keep-index-versions = 0
cleanup = false
stop-on-error = false
timeout = 10
global-timeout = 1800
workers = 3
verifiers = 3
root_uri =
diff-file =
diff-append-epoch = false
log-config =
`

// ReadConfig reads a bandersnatch.conf as bandersnatch 8 reads it: Python's
// configparser.ConfigParser(delimiters="=") over its defaults, keys as
// written, values whole however long, %(key)s interpolation at most 10
// levels deep (see internal/configparser). A FIFO, a device or a file of
// more than configparser.MaxFileSize bytes is refused without waiting.
func ReadConfig(path string) (*Config, error) {
	data, err := safefs.ReadRegular(path, configparser.MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	f := configparser.New()
	if err := f.Read("bandersnatch defaults", []byte(bandersnatchDefaults)); err != nil {
		return nil, err
	}
	if err := f.Read(path, data); err != nil {
		return nil, fmt.Errorf("config %w (bandersnatch refuses it too): fix the file", err)
	}
	var errs []error
	get := func(section, key string) string {
		if !f.HasOption(section, key) {
			return ""
		}
		v, err := f.Get(section, key)
		if err != nil {
			errs = append(errs, fmt.Errorf("config %w: fix the file", err))
		}
		return v
	}
	m := func(key string) string { return get("mirror", key) }
	c := &Config{
		Given:          true,
		Directory:      m("directory"),
		S3:             strings.EqualFold(m("storage-backend"), "s3"),
		Master:         m("master"),
		S3Endpoint:     get("s3", "endpoint_url"),
		S3Region:       get("s3", "region_name"),
		S3AccessKey:    get("s3", "aws_access_key_id"),
		S3SecretKey:    get("s3", "aws_secret_access_key"),
		SimpleFormat:   strings.ToUpper(strings.TrimSpace(m("simple-format"))),
		DigestName:     strings.TrimSpace(m("digest_name")),
		DownloadMirror: strings.TrimSpace(m("download-mirror")),
		RootURI:        strings.TrimSpace(m("root_uri")),
	}
	for _, b := range []struct {
		key  string
		def  bool
		into *bool
	}{
		{"hash-index", false, &c.HashIndex}, {"json", false, &c.JSON}, {"release-files", true, &c.ReleaseFiles},
		{"core-metadata", true, &c.CoreMetadata}, {"download-mirror-no-fallback", false, &c.DownloadMirrorNoFallback},
	} {
		if b.key == "download-mirror-no-fallback" && c.DownloadMirror == "" {
			continue // bandersnatch reads it only with a download-mirror
		}
		v, err := configBool(m(b.key), b.def)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: [mirror] %s: %w", path, b.key, err))
		}
		*b.into = v
	}
	if k := strings.TrimSpace(m("keep_index_versions")); k != "" {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: [mirror] keep_index_versions: %q is not a whole number of versions (0 or more)", path, k))
		}
		c.KeepIndexVersions = n
	}
	var serrs []error
	c.Sync, serrs = readSyncSettings(m, path)
	errs = append(errs, serrs...)
	c.Sync.DiffFile, c.Sync.DiffFileNote = diffFilePath(strings.TrimSpace(m("diff-file")), c.Directory, func(section, option string) (string, bool) {
		option = strings.ToLower(option) // configparser's optionxform
		if !f.HasOption(section, option) {
			return "", false
		}
		v, err := f.Get(section, option)
		return v, err == nil
	})
	if c.Sync.DiffAppendEpoch, err = configBool(m("diff-append-epoch"), false); err != nil {
		errs = append(errs, fmt.Errorf("%s: [mirror] diff-append-epoch: %w", path, err))
	}
	if !slices.Contains([]string{"ALL", "HTML", "JSON"}, c.SimpleFormat) {
		errs = append(errs, fmt.Errorf("%s: [mirror] simple-format: %q is not ALL, HTML or JSON", path, c.SimpleFormat))
	}
	if !slices.Contains(digestNames, c.DigestName) {
		errs = append(errs, fmt.Errorf("%s: [mirror] digest_name: %q is not a digest bandersnatch can use (%s)", path, c.DigestName, strings.Join(digestNames, ", ")))
	}
	if c.DownloadMirror != "" {
		if u, err := url.Parse(c.DownloadMirror); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: [mirror] download-mirror: %q is not an http:// or https:// URL", path, c.DownloadMirror))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	if c.Filters, err = filters.Load(f, path); err != nil {
		return nil, err
	}
	return c, nil
}

// configBool reads a boolean as configparser's getboolean does.
func configBool(v string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def, nil
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return def, fmt.Errorf("%q is not a boolean (true/false, yes/no, on/off, 1/0)", v)
}

// Designation names every setting that changes what the mirror should
// hold; a resume under another one is refused.
func (c *Config) Designation() string {
	if !c.Given {
		return "no config"
	}
	return fmt.Sprintf("json=%t release-files=%t core-metadata=%t simple-format=%s filters=%s",
		c.JSON, c.ReleaseFiles, c.CoreMetadata, c.SimpleFormat, c.Filters.Fingerprint())
}
