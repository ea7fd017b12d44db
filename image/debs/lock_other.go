//go:build !linux

package debs

// lockFile does not lock off Linux: two builds unpacking the same package
// at once only waste work, since each unpacks into its own temporary
// directory and renames it into place.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
