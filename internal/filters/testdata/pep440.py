# Prints the PEP 440 decisions of Python's packaging (bandersnatch's library) that
# pep440_test.go checks go-pep440-version against. Regenerate with
#   apt-get install python3-packaging; /usr/bin/python3 pep440.py > pep440.json
import json
from packaging.version import Version, InvalidVersion
from packaging.specifiers import SpecifierSet
versions = ["0.9", "1.0", "1.0.0", "1.0a1", "1.0b2", "1.0rc1", "1.0.dev3", "1.0.post1", "1.0+local.1", "1!0.5",
            "1.1", "1.1.1", "1.2.0", "1.2.1", "1.2.2alpha3", "1.2.3rc1", "1.1.0a2", "1.1.1beta1", "2.0", "2.0.1b1", "2.0.1b2",
            "2.0rc1", "3.10", "3.9", "3.6.1", "2.7.18", "3.0", "10.0", "1.0.0.0.1", "0.1.dev0", "1.0.post1.dev2", "1.0-1", "1.0_RC1", "v1.2", "1.0c1"]
specs = ["==1.0", "==1.0.*", "!=1.0.*", ">=1.0", ">1.0", "<1.0", "<=1.2.0", "~=1.0", "~=1.1.0", ">=1.0,<2", ">=3.6", ">=2.7,<3",
         ">=2.7,!=3.0.*,!=3.1.*,!=3.2.*", "<3.10", ">1.0.post1", "<2.0.1b2", "===1.0", "==1.0+local.1", ">=1!0.1", ">=3", "~=2.0rc1", "!=1.0"]
out = []
for s in specs:
    ss = SpecifierSet(s, prereleases=True)
    for v in versions:
        try:
            pv = Version(v)
        except InvalidVersion:
            continue
        out.append([s, v, ss.contains(pv, prereleases=True)])
order = sorted([v for v in versions], key=lambda v: Version(v))
print(json.dumps({"contains": out, "order": order}))
