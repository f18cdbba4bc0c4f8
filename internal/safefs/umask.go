package safefs

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// readUmask reads the process's umask from /proc/self/status (Linux 4.7 and
// later), or -1 where it cannot. It is read, never set: setting it to learn
// it would change the mode of files other goroutines create meanwhile.
func readUmask() int32 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, found := bytes.CutPrefix(sc.Bytes(), []byte("Umask:")); found {
			m, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 32)
			if err != nil || m > 0o777 {
				return -1
			}
			return int32(m)
		}
	}
	return -1
}
