package mirrorfiles

import "path"

// S3Keep is the empty object bandersnatch's S3 backend puts into each
// folder it makes (its mkdir): "<folder>/.s3keep".
const S3Keep = ".s3keep"

// S3BootstrapKeeps are the keep objects of a mirror on S3 after its first
// sync: the root's and each of BootstrapDirs' (only the named folders, not
// their parents: web/local-stats has none).
func S3BootstrapKeeps(o Options) []string {
	keys := []string{S3Keep}
	for _, d := range BootstrapDirs(o) {
		keys = append(keys, d+"/"+S3Keep)
	}
	return keys
}

// S3Keeps are the keep objects bandersnatch's S3 backend leaves for a
// project: in its simple folder, in web/pypi/<name>/ with json on, and in
// the folder of each downloaded file. bandersnatch puts one where the
// folder held nothing yet (web/pypi/<name>/ every time); as it never removes
// them, putting each one that is missing gives the same bucket.
func (p *Project) S3Keeps() []string {
	if p.err != nil || p.Skip != "" {
		if p.Skip == "" && p.opts.JSON {
			return []string{"web/pypi/" + p.Name + "/" + S3Keep}
		}
		return nil
	}
	keys := []string{p.SimpleDir() + S3Keep}
	if p.opts.JSON {
		keys = append(keys, "web/pypi/"+p.Name+"/"+S3Keep)
	}
	seen := map[string]bool{}
	for _, d := range p.Downloads() {
		if k := path.Dir(d.Path) + "/" + S3Keep; !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}
