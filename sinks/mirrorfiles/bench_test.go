package mirrorfiles

import "testing"

// benchDoc is a synthetic project's document as genmirror's warehouse
// serves it (two releases, two files each): what an incremental sync
// prepares for each changed project.
const benchDoc = `{"info":{"author":"A. Ûthor \u003ca@example.org\u003e","classifiers":["Programming Language :: Python :: 3"],"description":"Long \u003cb\u003edescription\u003c/b\u003e of proj-0009701\n\n\"quoted\" \\ tab\t 𝄞 ☃","description_content_type":null,"downloads":{"last_day":-1,"last_month":-1,"last_week":-1},"home_page":"","keywords":null,"license":"MIT","name":"proj-0009701","project_urls":{},"requires_dist":null,"requires_python":null,"summary":"The proj-0009701 project ☃","version":"1.1","yanked":false,"yanked_reason":null},"last_serial":11098,"releases":{"1.0":[{"comment_text":"","digests":{"blake2b_256":"d53c0f7d087b46c83052c727e5c19a2f80fcf4b3e485bdc0cea02673bd1cb89d","md5":"35f352d73c216f2f68dad96d8de48e35","sha256":"2e7f12fd3d82f494b0d8a4deaf57305e2ba8b6669dcce8932d2c2253c2cf814b"},"downloads":-1,"filename":"proj-0009701-1.0.tar.gz","has_sig":false,"md5_digest":"35f352d73c216f2f68dad96d8de48e35","packagetype":"sdist","python_version":"source","requires_python":null,"size":50,"upload_time":"2021-03-23T00:26:06","upload_time_iso_8601":"2021-03-23T00:26:06.113357Z","url":"http://upstream.example/packages/d5/3c/0f7d087b46c83052c727e5c19a2f80fcf4b3e485bdc0cea02673bd1cb89d/proj-0009701-1.0.tar.gz","yanked":false,"yanked_reason":null,"core-metadata":false,"data-dist-info-metadata":false},{"comment_text":"","digests":{"blake2b_256":"759ce9cbe3bff52efc230c6b0ba6478d69afd13749462dd92c2fcec6c75c1a8d","md5":"3572f8ebb33cd48c62ac63530f2bb5dc","sha256":"12152f0e64c3ec49aaa055b1ec6b3212755d6fee7bcc7d59d0707080fc7146ea"},"downloads":-1,"filename":"proj-0009701-1.0-py3-none-any-1.whl","has_sig":false,"md5_digest":"3572f8ebb33cd48c62ac63530f2bb5dc","packagetype":"bdist_wheel","python_version":"none","requires_python":null,"size":62,"upload_time":"2021-03-23T00:26:06","upload_time_iso_8601":"2021-03-23T00:26:06.113357Z","url":"http://upstream.example/packages/75/9c/e9cbe3bff52efc230c6b0ba6478d69afd13749462dd92c2fcec6c75c1a8d/proj-0009701-1.0-py3-none-any-1.whl","yanked":false,"yanked_reason":null,"core-metadata":false,"data-dist-info-metadata":false}],"1.1":[{"comment_text":"","digests":{"blake2b_256":"45f17b62969e439d9bd8045de9ef01c45b3c7fc6cd7f4c2d59f93df22a2f09a2","md5":"1d55d35193811608383afaffb08c663d","sha256":"6889a63f9707566ce1066accd9e67b0183b8835794cb2e83bd906f917b15fdf9"},"downloads":-1,"filename":"proj-0009701-1.1.tar.gz","has_sig":false,"md5_digest":"1d55d35193811608383afaffb08c663d","packagetype":"sdist","python_version":"source","requires_python":null,"size":50,"upload_time":"2021-04-08T13:26:55","upload_time_iso_8601":"2021-04-08T13:26:55.125786Z","url":"http://upstream.example/packages/45/f1/7b62969e439d9bd8045de9ef01c45b3c7fc6cd7f4c2d59f93df22a2f09a2/proj-0009701-1.1.tar.gz","yanked":false,"yanked_reason":null,"core-metadata":false,"data-dist-info-metadata":false}]},"urls":[{"comment_text":"","digests":{"blake2b_256":"45f17b62969e439d9bd8045de9ef01c45b3c7fc6cd7f4c2d59f93df22a2f09a2","md5":"1d55d35193811608383afaffb08c663d","sha256":"6889a63f9707566ce1066accd9e67b0183b8835794cb2e83bd906f917b15fdf9"},"downloads":-1,"filename":"proj-0009701-1.1.tar.gz","has_sig":false,"md5_digest":"1d55d35193811608383afaffb08c663d","packagetype":"sdist","python_version":"source","requires_python":null,"size":50,"upload_time":"2021-04-08T13:26:55","upload_time_iso_8601":"2021-04-08T13:26:55.125786Z","url":"http://upstream.example/packages/45/f1/7b62969e439d9bd8045de9ef01c45b3c7fc6cd7f4c2d59f93df22a2f09a2/proj-0009701-1.1.tar.gz","yanked":false,"yanked_reason":null,"core-metadata":false,"data-dist-info-metadata":false}],"vulnerabilities":[]}`

// BenchmarkPrepareProject: what a sync does with a project's document
// before it writes anything: Prepare (parse, filters, checks), then the
// downloads and the pages.
func BenchmarkPrepareProject(b *testing.B) {
	o := DefaultOptions()
	o.RootURI = "https://files.example.org"
	doc := []byte(benchDoc)
	b.ReportAllocs()
	for b.Loop() {
		p, err := Prepare(doc, "proj-0009701", o)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Downloads()) == 0 || len(p.Pages()) != 3 {
			b.Fatal("no downloads or pages")
		}
	}
}
