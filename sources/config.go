package sources

import (
	"fmt"
	"strings"

	"gopkg.in/ini.v1"
)

// Config is what bandercheck takes from a bandersnatch.conf.
type Config struct {
	Directory   string // [mirror] directory
	S3          bool   // [mirror] storage-backend = s3
	HashIndex   bool   // [mirror] hash-index
	Master      string // [mirror] master
	S3Endpoint  string // [s3] endpoint_url
	S3Region    string // [s3] region_name
	S3AccessKey string // [s3] aws_access_key_id
	S3SecretKey string // [s3] aws_secret_access_key
}

// ReadConfig reads a bandersnatch.conf.
func ReadConfig(path string) (*Config, error) {
	f, err := ini.LoadSources(ini.LoadOptions{Insensitive: false, AllowBooleanKeys: true}, path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	m, s3 := f.Section("mirror"), f.Section("s3")
	c := &Config{
		Directory:   m.Key("directory").String(),
		S3:          strings.EqualFold(m.Key("storage-backend").String(), "s3"),
		Master:      m.Key("master").String(),
		S3Endpoint:  s3.Key("endpoint_url").String(),
		S3Region:    s3.Key("region_name").String(),
		S3AccessKey: s3.Key("aws_access_key_id").String(),
		S3SecretKey: s3.Key("aws_secret_access_key").String(),
	}
	if k := m.Key("hash-index"); k.String() != "" {
		v, err := k.Bool()
		if err != nil {
			return nil, fmt.Errorf("read config %s: [mirror] hash-index = %q is not a boolean", path, k.String())
		}
		c.HashIndex = v
	}
	return c, nil
}
