# List a bandersnatch mirror on S3 as the golden S3MANIFEST: one object a
# line, "key size sha256 metadata-json", keys relative to the mirror prefix.
# Usage: s3list.py ENDPOINT BUCKET PREFIX ACCESS_KEY SECRET_KEY
import sys, json, hashlib, boto3
ep, bucket, prefix, ak, sk = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
    keys += [o["Key"] for o in page.get("Contents", [])]
for k in sorted(keys):
    o = s3.get_object(Bucket=bucket, Key=k)
    body = o["Body"].read()
    rel = k[len(prefix)+1:]
    digest = "-" if rel == "web/last-modified" else hashlib.sha256(body).hexdigest()  # the sync's start time
    print(rel, len(body), digest, json.dumps(o.get("Metadata", {}), sort_keys=True))
