//go:build unix

package file

import (
	"os"
	"syscall"
)

// keyOf returns the device and inode of a file.
func keyOf(fi os.FileInfo) fileKey {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	}
	return fileKey{}
}
