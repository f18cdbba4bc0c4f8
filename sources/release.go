package sources

// File is one release file a project's metadata designates.
type File struct {
	Path           string // mirror key
	Filename       string
	URL            string
	Size           int64 // -1 when unknown
	SHA256         string
	UploadTime     string // RFC 3339, may be empty
	MetadataSHA256 string // the .metadata file's sha256, when upstream has one
}

// Project is what a metadata document says of its project besides files.
type Project struct {
	Name   string
	Serial int64 // -1 when unknown
}
