//go:build !unix

package file

import "os"

// keyOf returns the zero key: without inodes, a rename is not told apart
// from a new file, and files are known by path and fingerprint only.
func keyOf(fi os.FileInfo) fileKey { return fileKey{} }
